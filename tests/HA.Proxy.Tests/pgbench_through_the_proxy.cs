using System.Diagnostics;
using System.Globalization;

namespace HA.Proxy.Tests;

[Collection(ProxyCollection.Name)]
public class pgbench_through_the_proxy(ProxyFixture fixture)
{
    private async Task<(int Code, string Output)> PgbenchAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("/usr/lib/postgresql/15/bin/pgbench",
            ["-h", "127.0.0.1", "-p", fixture.Proxy.PrimaryEndpoint.Port.ToString(CultureInfo.InvariantCulture), "-U", ProxyFixture.User, .. arguments, "postgres"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PGPASSWORD"] = ProxyFixture.Password;
        start.Environment["PGCONNECT_TIMEOUT"] = "10";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }

    [Fact]
    public async Task runs_with_the_simple_extended_and_prepared_protocols()
    {
        var init = await PgbenchAsync("-i", "-s", "1", "-q");
        Assert.True(init.Code == 0, init.Output);
        foreach (var mode in new[] { "simple", "extended", "prepared" })
        {
            var run = await PgbenchAsync("-M", mode, "-c", "4", "-j", "2", "-t", "100", "-n");
            Assert.True(run.Code == 0, $"pgbench -M {mode}: {run.Output}");
            Assert.Contains("number of transactions actually processed: 400/400", run.Output);
            Assert.Contains("number of failed transactions: 0", run.Output);
        }
    }
}
