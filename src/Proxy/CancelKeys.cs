using System.Collections.Concurrent;
using System.Security.Cryptography;
using HA.Core.State;

namespace HA.Proxy;

/// <summary>The server a proxy-issued key stands for: its address and the key the server itself issued.</summary>
public sealed record CancelTarget(RouteEndpoint Server, int ProcessId, int SecretKey);

/// <summary>
/// The BackendKeyData the proxy hands its clients, each unique and random, mapped to the server key
/// behind it: a CancelRequest is forwarded only to the server running that client's query.
/// </summary>
public sealed class CancelKeys
{
    private readonly ConcurrentDictionary<(int ProcessId, int SecretKey), CancelTarget> _targets = new();

    public (int ProcessId, int SecretKey) Issue(CancelTarget target)
    {
        while (true)
        {
            var key = (RandomNumberGenerator.GetInt32(1, int.MaxValue), RandomNumberGenerator.GetInt32(int.MinValue, int.MaxValue));
            if (_targets.TryAdd(key, target)) return key;
        }
    }

    public CancelTarget? Find(int processId, int secretKey) => _targets.GetValueOrDefault((processId, secretKey));

    public void Forget((int ProcessId, int SecretKey) key) => _targets.TryRemove(key, out _);

    public int Count => _targets.Count;
}
