using System.Buffers.Binary;

namespace HA.Proxy.Protocol;

/// <summary>
/// A server's messages to its client until the first ReadyForQuery: framed so that the server's
/// BackendKeyData can be replaced by the proxy's own key (<paramref name="issue"/> maps the server's
/// key to it). After that ReadyForQuery the bytes pass unchanged and <see cref="Ready"/> is true.
/// </summary>
internal sealed class ServerGreeting(string node, Func<int, int, (int ProcessId, int SecretKey)> issue)
{
    /// <summary>How many more bytes <see cref="Rewrite"/> may write than it is given (a header held back from an earlier call).</summary>
    public const int MaxGrowth = 13;

    private const int HeaderLength = 5;
    private const int KeyDataLength = 13;

    private readonly byte[] _held = new byte[KeyDataLength];
    private int _heldLength;
    private long _passing;
    private bool _readyAfterPassing;

    public bool Ready { get; private set; }

    /// <summary>What the client gets for <paramref name="input"/>: the bytes themselves once <see cref="Ready"/>, else their rewrite into <paramref name="output"/> (see <see cref="Rewrite"/>).</summary>
    public ReadOnlyMemory<byte> Forward(ReadOnlyMemory<byte> input, byte[] output) =>
        Ready ? input : output.AsMemory(0, Rewrite(input.Span, output));

    /// <summary>
    /// Writes to <paramref name="output"/> (at least <paramref name="input"/>'s length plus
    /// <see cref="MaxGrowth"/>) what the client gets for these bytes, and returns how many. A message
    /// header cut by the end of <paramref name="input"/> is held back until the rest comes.
    /// </summary>
    public int Rewrite(ReadOnlySpan<byte> input, Span<byte> output)
    {
        var written = 0;
        while (!input.IsEmpty)
        {
            if (Ready)
            {
                input.CopyTo(output[written..]);
                return written + input.Length;
            }
            if (_passing > 0)
            {
                var take = (int)Math.Min(_passing, input.Length);
                input[..take].CopyTo(output[written..]);
                written += take;
                input = input[take..];
                _passing -= take;
                Ready = _passing == 0 && _readyAfterPassing;
                continue;
            }
            var keyData = _heldLength >= HeaderLength && _held[0] == ProtocolCodes.BackendKeyData;
            var need = keyData ? KeyDataLength : HeaderLength;
            var fill = Math.Min(need - _heldLength, input.Length);
            input[..fill].CopyTo(_held.AsSpan(_heldLength));
            _heldLength += fill;
            input = input[fill..];
            if (_heldLength < need) break;
            var type = _held[0];
            var length = BinaryPrimitives.ReadInt32BigEndian(_held.AsSpan(1));
            if (length < 4) throw new IOException($"server {node} sent a message '{(char)type}' with length {length}");
            if (type == ProtocolCodes.BackendKeyData)
            {
                if (length != 12) throw new IOException($"server {node} sent a BackendKeyData of length {length} (protocol 3.0 has 12)");
                if (!keyData) continue; // its key is still to come
                var (processId, secretKey) = issue(BinaryPrimitives.ReadInt32BigEndian(_held.AsSpan(5)), BinaryPrimitives.ReadInt32BigEndian(_held.AsSpan(9)));
                BackendMessages.KeyData(processId, secretKey).CopyTo(output[written..]);
                written += KeyDataLength;
                _heldLength = 0;
                continue;
            }
            _held.AsSpan(0, HeaderLength).CopyTo(output[written..]);
            written += HeaderLength;
            _heldLength = 0;
            _passing = length - 4L;
            _readyAfterPassing = type == ProtocolCodes.ReadyForQuery;
            Ready = _passing == 0 && _readyAfterPassing;
        }
        return written;
    }
}
