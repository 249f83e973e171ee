using HA.Api.Http;

namespace HA.Api.Tests.Http;

/// <summary>The <c>?lag=</c> of the health checks: sizes as Patroni reads them (units of 1024), and delays.</summary>
public sealed class reading_a_lag_limit
{
    [Theory]
    [InlineData("1048576", 1048576L)]
    [InlineData("0", 0L)]
    [InlineData("100B", 100L)]
    [InlineData("1024kB", 1048576L)]
    [InlineData("16MB", 16L * 1024 * 1024)]
    [InlineData("1GB", 1024L * 1024 * 1024)]
    [InlineData("1.5MB", 1572864L)]
    [InlineData(" 10 MB ", 10L * 1024 * 1024)]
    public void sizes_are_bytes(string text, long bytes)
    {
        Assert.True(LagLimit.TryParse(text, out var limit));
        Assert.Equal(new LagLimit(bytes, null), limit);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("10s", 10_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2min", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1d", 86_400_000)]
    public void delays_are_times(string text, int milliseconds)
    {
        Assert.True(LagLimit.TryParse(text, out var limit));
        Assert.Equal(new LagLimit(null, TimeSpan.FromMilliseconds(milliseconds)), limit);
    }

    [Theory]
    [InlineData("")]
    [InlineData("fast")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("10 parsecs")]
    [InlineData("1mb")]
    [InlineData("99999999999999999999TB")]
    public void anything_else_is_refused_with_what_would_do(string text)
    {
        Assert.False(LagLimit.TryParse(text, out _));
        var (limit, error) = PatroniChecks.ReadLag(text);
        Assert.Null(limit);
        Assert.Contains("16MB", error, StringComparison.Ordinal);
    }

    [Fact]
    public void no_lag_asked_is_no_limit() => Assert.Equal((null, null), PatroniChecks.ReadLag(null));
}
