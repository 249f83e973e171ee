using System.Net.Sockets;

namespace HA.Agent.Runtime;

/// <summary>
/// Whether a peer's PostgreSQL answers at all, without credentials: connect to its port and send an
/// SSLRequest; a postmaster that accepts connections answers one byte ('S' or 'N'). What an observer
/// gossips about its peers, and what failure detection by a majority of observers counts.
/// </summary>
public static class PeerProbe
{
    private static readonly byte[] SslRequest = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

    public static async Task<(bool Reachable, string Detail)> ProbeAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(host, port, deadline.Token).ConfigureAwait(false);
            var stream = client.GetStream();
            await stream.WriteAsync(SslRequest, deadline.Token).ConfigureAwait(false);
            var answer = new byte[1];
            var read = await stream.ReadAsync(answer, deadline.Token).ConfigureAwait(false);
            return read == 1 && answer[0] is (byte)'S' or (byte)'N'
                ? (true, "accepts connections")
                : (false, read == 0 ? "closed the connection without answering" : $"answered '{(char)answer[0]}' to an SSLRequest");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, $"no answer within {timeout.TotalMilliseconds:0} ms");
        }
        catch (SocketException e)
        {
            return (false, e.SocketErrorCode == SocketError.ConnectionRefused ? "connection refused" : e.Message);
        }
        catch (IOException e)
        {
            return (false, e.GetBaseException().Message);
        }
    }
}
