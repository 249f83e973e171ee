using System.Net;
using System.Net.Sockets;

namespace HA.Agent.Local;

/// <summary>Whether a TCP port can be bound on an address right now.</summary>
public static class PortCheck
{
    public static bool IsFree(string address, int port)
    {
        try
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            if (IPAddress.Parse(address).AddressFamily == AddressFamily.InterNetworkV6)
            {
                using var v6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
                v6.Bind(new IPEndPoint(IPAddress.Parse(address), port));
                return true;
            }
            listener.Bind(new IPEndPoint(IPAddress.Parse(address), port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
