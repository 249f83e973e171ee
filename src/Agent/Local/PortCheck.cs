using System.Net;
using System.Net.Sockets;

namespace HA.Agent.Local;

/// <summary>Whether a TCP port can be listened on, on an address, right now.</summary>
public static class PortCheck
{
    /// <summary>
    /// Binds and listens the way PostgreSQL does (SO_REUSEADDR), so the answer agrees with what PostgreSQL
    /// can bind: a connection that a server on the port left in TIME_WAIT does not count, another listener
    /// does. (A connection in TIME_WAIT that took the port as its ephemeral local port blocks PostgreSQL as
    /// well: hence the demo's ports lie below the kernel's ephemeral range.)
    /// </summary>
    public static bool IsFree(string address, int port)
    {
        var ip = IPAddress.Parse(address);
        try
        {
            using var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(ip, port));
            socket.Listen();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
