using System.Net;

namespace HA.Cluster.Tests.Api;

/// <summary>Plain HTTP requests to a node's API, answering the status code and the body.</summary>
internal static class ApiClient
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public static string Url(HA.Testing.AgentCluster agents, string node) =>
        $"http://127.0.0.1:{agents.Settings.GossipPorts[agents.Nodes.ToList().IndexOf(node)]}";

    public static async Task<(HttpStatusCode Status, string Body)> SendAsync(string url, HttpMethod? method = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, url);
        using var response = await Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public static async Task<int> StatusAsync(string url, HttpMethod? method = null) => (int)(await SendAsync(url, method)).Status;
}
