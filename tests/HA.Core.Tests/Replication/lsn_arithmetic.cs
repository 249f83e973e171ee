using HA.Core.Replication;

namespace HA.Core.Tests.Replication;

public sealed class lsn_arithmetic
{
    [Theory]
    [InlineData("0/0", 0UL)]
    [InlineData("0/3000060", 0x3000060UL)]
    [InlineData("16/B374D848", 0x16_B374D848UL)]
    [InlineData("FFFFFFFF/FFFFFFFF", ulong.MaxValue)]
    public void parses_and_prints_postgresql_text(string text, ulong value)
    {
        var lsn = Lsn.Parse(text);
        Assert.Equal(value, lsn.Value);
        Assert.Equal(text, lsn.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("16")]
    [InlineData("16/")]
    [InlineData("/16")]
    [InlineData("1/2/3")]
    [InlineData("G/1")]
    [InlineData("100000000/0")]
    public void refuses_what_is_not_an_lsn(string text)
    {
        Assert.False(Lsn.TryParse(text, out _));
        var error = Assert.Throws<FormatException>(() => Lsn.Parse(text));
        Assert.Contains($"'{text}' is not a PostgreSQL LSN", error.Message);
    }

    [Fact]
    public void bytes_behind_crosses_the_32_bit_boundary_and_never_goes_negative()
    {
        var ahead = Lsn.Parse("1/10");
        var behind = Lsn.Parse("0/FFFFFFF0");
        Assert.Equal(0x20, Lsn.BytesBehind(ahead, behind));
        Assert.Equal(0, Lsn.BytesBehind(behind, ahead));
        Assert.True(ahead > behind);
        Assert.Equal(1, ahead.CompareTo(behind));
    }

    [Fact]
    public void a_node_position_is_its_written_or_furthest_received_lsn()
    {
        var primary = new NodeState(false, 1, Lsn.Parse("0/500"), null, null, null, null, null, []);
        var standby = new NodeState(true, 1, null, Lsn.Parse("0/400"), Lsn.Parse("0/300"), "streaming", "127.0.0.1", 5432, []);
        Assert.Equal(Lsn.Parse("0/500"), primary.Position);
        Assert.Equal(Lsn.Parse("0/400"), standby.Position);
        Assert.Equal(0x200, standby.ReplayLagBytes(primary.Position));
        Assert.True(standby.IsStreamingReplica);
        Assert.False(primary.IsStreamingReplica);
    }
}
