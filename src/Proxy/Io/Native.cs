using System.Runtime.InteropServices;

namespace HA.Proxy.Io;

/// <summary>The Linux calls the proxy's event loops make directly (epoll, eventfd, recv, send).</summary>
internal static unsafe partial class Native
{
    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;
    public const int EpollCtlMod = 3;

    public const uint EpollIn = 0x001;
    public const uint EpollOut = 0x004;
    public const uint EpollErr = 0x008;
    public const uint EpollHup = 0x010;
    public const uint EpollOneShot = 1u << 30;

    public const int EAgain = 11;
    public const int EIntr = 4;
    private const int MsgNoSignal = 0x4000;
    private const int CloExec = 0x80000;
    private const int NonBlock = 0x800;

    /// <summary>struct epoll_event is packed on x86-64 (12 bytes, data at offset 4); elsewhere it is 16 bytes, data at 8.</summary>
    public static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    public static readonly int EventDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epoll, int op, int fd, byte* ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epoll, byte* events, int maxEvents, int timeout);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint Send(int fd, byte* buffer, nint length, int flags);

    public static int CreateEpoll() => Check(EpollCreate1(CloExec), "epoll_create1");

    public static int CreateEventFd() => Check(EventFd(0, CloExec | NonBlock), "eventfd");

    /// <summary>Adds, changes or removes <paramref name="fd"/>'s interest; <paramref name="data"/> comes back with its events.</summary>
    public static void Control(int epoll, int op, int fd, uint events, long data)
    {
        var ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(long*)(ev + EventDataOffset) = data;
        Check(EpollCtl(epoll, op, fd, ev), "epoll_ctl");
    }

    public static void Signal(int eventFd)
    {
        ulong one = 1;
        Write(eventFd, (byte*)&one, sizeof(ulong));
    }

    public static void Drain(int eventFd)
    {
        ulong value;
        Read(eventFd, (byte*)&value, sizeof(ulong));
    }

    /// <summary>recv without waiting: the bytes received, 0 at end of stream, -1 when nothing is there yet; other failures throw.</summary>
    public static int Receive(int fd, Span<byte> buffer)
    {
        fixed (byte* at = buffer)
        {
            while (true)
            {
                var n = Recv(fd, at, buffer.Length, 0);
                if (n >= 0) return (int)n;
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EIntr) continue;
                if (errno == EAgain) return -1;
                throw Failure("recv", errno);
            }
        }
    }

    /// <summary>send without waiting: the bytes taken (0 when the socket buffer is full); failures throw.</summary>
    public static int SendSome(int fd, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* at = buffer)
        {
            while (true)
            {
                var n = Send(fd, at, buffer.Length, MsgNoSignal);
                if (n >= 0) return (int)n;
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EIntr) continue;
                if (errno == EAgain) return 0;
                throw Failure("send", errno);
            }
        }
    }

    public static IOException Failure(string call, int errno) => new($"{call}: {Marshal.GetPInvokeErrorMessage(errno)}");

    private static int Check(int result, string call) => result >= 0 ? result : throw Failure(call, Marshal.GetLastPInvokeError());
}

/// <summary>
/// A socket's descriptor held for one call: the socket may be closed by another thread meanwhile, and
/// the descriptor stays this socket's (not reused by a new one) until the holder is disposed.
/// </summary>
internal ref struct Descriptor
{
    private readonly System.Runtime.InteropServices.SafeHandle _handle;
    private readonly bool _added;

    public Descriptor(System.Net.Sockets.Socket socket)
    {
        _handle = socket.SafeHandle;
        _handle.DangerousAddRef(ref _added);
        Fd = (int)_handle.DangerousGetHandle();
    }

    public int Fd { get; }

    public readonly void Dispose()
    {
        if (_added) _handle.DangerousRelease();
    }

    /// <summary>Shuts a proxy socket down both ways and closes it, whatever state it is in.</summary>
    public static void Close(System.Net.Sockets.Socket socket)
    {
        try { socket.Shutdown(System.Net.Sockets.SocketShutdown.Both); }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException) { }
        socket.Dispose();
    }
}
