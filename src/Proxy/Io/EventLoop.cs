using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace HA.Proxy.Io;

/// <summary>Something told by an <see cref="EventLoop"/> that a socket it registered is ready.</summary>
internal interface IReadiness
{
    /// <summary>Runs on the loop's thread; must not block and must not throw.</summary>
    void OnReady(long registration, uint events);
}

/// <summary>
/// One thread waiting on one epoll set (level-triggered unless a registration asks for one-shot),
/// one per core, shared by every proxy in the process. Sessions are spread over the loops; both
/// sockets of a session are on the same loop, so a relay runs on one thread without locks. Work
/// from other threads is posted and the loop woken through an eventfd.
/// </summary>
internal sealed unsafe class EventLoop
{
    private const int MaxEvents = 256;

    private static readonly Lazy<EventLoop[]> Loops = new(() => Enumerable.Range(0, Environment.ProcessorCount).Select(i => new EventLoop(i)).ToArray());
    private static int _next;

    private readonly int _epoll;
    private readonly int _wake;
    private readonly ConcurrentDictionary<long, IReadiness> _registered = new();
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly Thread _thread;
    private long _lastRegistration;
    private int _wakeSent;

    private EventLoop(int index)
    {
        _epoll = Native.CreateEpoll();
        _wake = Native.CreateEventFd();
        Native.Control(_epoll, Native.EpollCtlAdd, _wake, Native.EpollIn, 0);
        _thread = new Thread(Run) { IsBackground = true, Name = $"pgha proxy loop {index}" };
        _thread.Start();
    }

    /// <summary>The loop for the next session (round robin).</summary>
    public static EventLoop Next()
    {
        var loops = Loops.Value;
        return loops[(int)((uint)Interlocked.Increment(ref _next) % loops.Length)];
    }

    /// <summary>A buffer that only code running on this loop's thread may use, between two waits.</summary>
    public byte[] Scratch { get; } = new byte[64 * 1024];

    /// <summary>A second one, for bytes rewritten out of <see cref="Scratch"/>.</summary>
    public byte[] Rewritten { get; } = new byte[64 * 1024 + Protocol.ServerGreeting.MaxGrowth];

    /// <summary>Runs <paramref name="action"/> on the loop's thread soon.</summary>
    public void Post(Action action)
    {
        _posted.Enqueue(action);
        if (Interlocked.Exchange(ref _wakeSent, 1) == 0) Native.Signal(_wake);
    }

    /// <summary>Starts watching <paramref name="socket"/>; the number returned names this registration.</summary>
    public long Add(Socket socket, uint events, IReadiness handler)
    {
        var registration = Interlocked.Increment(ref _lastRegistration);
        _registered[registration] = handler;
        try { Control(socket, Native.EpollCtlAdd, events, registration); }
        catch
        {
            _registered.TryRemove(registration, out _);
            throw;
        }
        return registration;
    }

    public void Modify(Socket socket, long registration, uint events) => Control(socket, Native.EpollCtlMod, events, registration);

    /// <summary>Stops watching; an event already collected for this registration is dropped.</summary>
    public void Remove(Socket socket, long registration)
    {
        _registered.TryRemove(registration, out _);
        // Closing the socket removed it already; a descriptor epoll no longer holds has nothing to remove.
        try { Control(socket, Native.EpollCtlDel, 0, 0); }
        catch (Exception e) when (e is ObjectDisposedException or IOException) { }
    }

    private void Control(Socket socket, int op, uint events, long registration)
    {
        using var descriptor = new Descriptor(socket);
        Native.Control(_epoll, op, descriptor.Fd, events, registration);
    }

    private void Run()
    {
        var events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * Native.EventSize));
        while (true)
        {
            var count = Native.EpollWait(_epoll, events, MaxEvents, -1);
            if (count < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Native.EIntr) continue;
                Environment.FailFast($"pgha proxy: epoll_wait failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
            for (var i = 0; i < count; i++)
            {
                var at = events + i * Native.EventSize;
                var ready = Unsafe.ReadUnaligned<uint>(at);
                var registration = Unsafe.ReadUnaligned<long>(at + Native.EventDataOffset);
                if (registration == 0) RunPosted();
                else if (_registered.TryGetValue(registration, out var handler)) Dispatch(handler, registration, ready);
            }
        }
    }

    private void RunPosted()
    {
        Native.Drain(_wake);
        // A full fence: the queue must be read after the flag is seen cleared, or a Post in between
        // would neither signal (flag still set) nor be seen (queue read early) until the next one.
        Interlocked.Exchange(ref _wakeSent, 0);
        while (_posted.TryDequeue(out var action))
        {
            try { action(); }
            catch (Exception e) { Console.Error.WriteLine($"pgha proxy: a loop task failed: {e}"); }
        }
    }

    private static void Dispatch(IReadiness handler, long registration, uint ready)
    {
        try { handler.OnReady(registration, ready); }
        catch (Exception e) { Console.Error.WriteLine($"pgha proxy: a loop handler failed: {e}"); }
    }
}
