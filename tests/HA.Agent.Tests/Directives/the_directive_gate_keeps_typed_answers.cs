using HA.Agent.Directives;
using HA.Core.Directives;
using HA.Core.Events;

namespace HA.Agent.Tests.Directives;

/// <summary>A directive delivered again after the agent restarted is answered with its first result, typed outcome included.</summary>
public sealed class the_directive_gate_keeps_typed_answers : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"pgha-gate-{Guid.NewGuid():n}.json");

    private static DirectiveEnvelope Envelope(Directive directive) =>
        new("demo", new DirectiveIssued("d1", "n1", directive.Kind, 2, 7, DateTimeOffset.UtcNow.AddMinutes(1), directive) { By = Initiator.Coordinator("n3"), CorrelationId = "sw1" });

    [Fact]
    public void a_redelivered_directive_gets_its_first_typed_answer_after_a_restart()
    {
        var envelope = Envelope(new Demote("n2"));
        var first = new DirectiveGate(_file);
        Assert.Null(first.Admit(envelope, DateTimeOffset.UtcNow));
        var result = DirectiveResult.For(envelope, true, TimeSpan.FromMilliseconds(250), "demoted at final LSN 0/40000D8; following n2", new Demoted("0/40000D8", "n2"));
        first.Record(result);

        var again = new DirectiveGate(_file).Admit(envelope, DateTimeOffset.UtcNow);
        Assert.Equal(result, again);
        Assert.Equal(new Demoted("0/40000D8", "n2"), again!.Outcome);
    }

    [Fact]
    public void answers_saved_before_outcomes_were_typed_still_load()
    {
        // The gate's file as an agent at ef2900c wrote it (default System.Text.Json options).
        File.WriteAllText(_file, """{"HighestTerm":2,"HighestToken":7,"Done":[{"Cluster":"demo","DirectiveId":"d1","Node":"n1","Succeeded":true,"Duration":"00:00:00.2500000","Detail":"demoted at final LSN 0/40000D8; following n2","CorrelationId":"sw1"}]}""");
        var again = new DirectiveGate(_file).Admit(Envelope(new Demote("n2")), DateTimeOffset.UtcNow);
        Assert.Equal(("demoted at final LSN 0/40000D8; following n2", (DirectiveOutcome?)null), (again!.Detail, again.Outcome));
    }

    public void Dispose() => File.Delete(_file);
}
