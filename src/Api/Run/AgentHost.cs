using HA.Agent.Directives;
using HA.Agent.Runtime;
using JasperFx.CodeGeneration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wolverine;
using Wolverine.ErrorHandling;
using Wolverine.Postgresql;

namespace HA.Api.Run;

/// <summary>
/// The Wolverine host of a <c>pgha run</c> process: the node's directive queue (listened to one
/// message at a time), the cluster's result queue, and every member's queue declared so directives
/// to a node whose agent has not started yet wait in its queue. Handler code is pre-generated
/// (src/Api/Internal/Generated, <c>pgha codegen write</c>) and loaded statically (DESIGN §11a).
/// </summary>
public static class AgentHost
{
    /// <summary>What the handlers need; <c>pgha codegen</c> builds the host with none (the handlers are generated, never run).</summary>
    public sealed class Parts
    {
        public NodeAgent? Agent { get; set; }
        public DirectiveResults? Results { get; set; }
    }

    public static IHost Build(string witnessConnectionString, string wolverineSchema, string cluster, string node, IEnumerable<string> members, Parts parts, LogLevel level = LogLevel.Information, string? contentRoot = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, Args = [], ContentRootPath = contentRoot ?? AppContext.BaseDirectory });
        ConfigureLogging(builder.Logging, level);
        builder.Services.AddSingleton<NodeAgent>(_ => parts.Agent ?? throw new InvalidOperationException("no agent in this process"));
        builder.Services.AddSingleton<DirectiveResults>(_ => parts.Results ?? throw new InvalidOperationException("no witness store in this process"));
        builder.UseWolverine(opts =>
        {
            opts.ServiceName = $"pgha-{cluster}-{node}";
            opts.ApplicationAssembly = typeof(AgentHost).Assembly;
            opts.Discovery.DisableConventionalDiscovery();
            opts.Discovery.IncludeType(typeof(DirectiveEnvelopeHandler));
            opts.Discovery.IncludeType(typeof(DirectiveResultHandler));
            opts.UsePostgresqlPersistenceAndTransport(HA.Projections.WitnessSessions.ConnectionString(witnessConnectionString), wolverineSchema)
                .AutoProvision()
                .EnableQueueNotifications();
            opts.PublishMessage<DirectiveResult>().ToPostgresqlQueue(DirectiveOutbox.ResultQueueName(cluster));
            foreach (var member in members) opts.Transports.GetOrCreateEndpoint(DirectiveOutbox.QueueFor(cluster, member));
            opts.ListenToPostgresqlQueue(DirectiveOutbox.QueueName(cluster, node)).Sequential();
            opts.ListenToPostgresqlQueue(DirectiveOutbox.ResultQueueName(cluster)).Sequential();
            // Recording an answer fails while the witness store is away: try again for a while.
            opts.OnException<Exception>().RetryWithCooldown(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));
            // A process killed between committing a directive and flushing it leaves the message in
            // the outbox; another node takes it over once the dead node is found stale (DESIGN §11a).
            opts.Durability.HealthCheckPollingTime = TimeSpan.FromSeconds(2);
            opts.Durability.StaleNodeTimeout = TimeSpan.FromSeconds(10);
            opts.CodeGeneration.TypeLoadMode = TypeLoadMode.Static;
        });
        return builder.Build();
    }

    /// <summary>The --log-level option of pgha run and pgha proxy.</summary>
    public static LogLevel LogLevelOption(string? text) => text switch
    {
        null or "information" or "info" => LogLevel.Information,
        "debug" => LogLevel.Debug,
        "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => throw new HA.Core.Errors.UsageError($"--log-level '{text}' is not one of debug, information, warning, error"),
    };

    public static void ConfigureLogging(ILoggingBuilder logging, LogLevel level)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.UseUtcTimestamp = true;
        });
        logging.SetMinimumLevel(level);
        logging.AddFilter("Wolverine", LogLevel.Warning);
        logging.AddFilter("Wolverine.Runtime.Agents", LogLevel.Error);
        logging.AddFilter("Wolverine.Runtime.WolverineRuntime", LogLevel.Error);
        logging.AddFilter("JasperFx", LogLevel.Warning);
        logging.AddFilter("Marten", LogLevel.Critical);
        logging.AddFilter("Microsoft", LogLevel.Warning);
    }
}
