using System.Diagnostics;

namespace HA.Testing;

/// <summary>Polls a condition until it holds or a deadline passes, then reports what was last seen.</summary>
public static class Eventually
{
    public static async Task<T> HoldsAsync<T>(Func<Task<T>> observe, Func<T, bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        T last = default!;
        Exception? lastError = null;
        while (clock.Elapsed < timeout)
        {
            try
            {
                last = await observe();
                lastError = null;
                if (condition(last)) return last;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                lastError = e;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{what} did not happen within {timeout.TotalSeconds:0} s; last seen: {(lastError is null ? last?.ToString() : lastError.GetType().Name + ": " + lastError.Message)}");
    }
}
