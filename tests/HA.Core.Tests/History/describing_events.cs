using HA.Core.Events;
using HA.Core.History;

namespace HA.Core.Tests.History;

/// <summary>One line per event, as `pgha demo` prints them and the history shows them.</summary>
public sealed class describing_events
{
    private static readonly Initiator Coordinator = Initiator.Coordinator("n1");

    [Fact]
    public void synchronous_standbys_say_who_may_be_promoted_and_directive_kinds_read_as_the_design_writes_them()
    {
        Assert.Equal("synchronous mode quorum: 1 of (n2, n3) acknowledge every commit; only they may be promoted",
            EventLine.Describe(new SynchronousStandbysChanged(SynchronousMode.Quorum, 1, ["n2", "n3"]) { By = Coordinator, CorrelationId = "s" }));
        Assert.Equal("synchronous mode on: no standby is promised every acknowledged commit",
            EventLine.Describe(new SynchronousStandbysChanged(SynchronousMode.On, 0, []) { By = Coordinator, CorrelationId = "s" }));
        Assert.Equal("n1 waits for synchronous_standby_names = 'FIRST 1 (\"n2\")' from 0/4000000 on",
            EventLine.Describe(new SynchronousStandbysApplied("n1", "FIRST 1 (\"n2\")", "0/4000000") { By = Initiator.Agent("n1"), CorrelationId = "s" }));
        Assert.Equal("APPLY_CONFIG", EventLine.KindName(DirectiveKind.ApplyConfig));
        Assert.Equal("REINITIALIZE", EventLine.KindName(DirectiveKind.Reinitialize));
    }
}
