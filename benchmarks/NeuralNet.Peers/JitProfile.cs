namespace NeuralNet.Peers;

/// <summary>
/// <c>--jit-profile DIR</c>: the library's multicore-JIT warm-up (<see cref="JitWarmup.StartProfile"/>), one profile per
/// mode and network. The first launch records it; the timed launches replay it, so the first epoch does not pay for the JIT.
/// </summary>
internal static class JitProfile
{
    /// <summary>"none" (no --jit-profile), "recorded" (no profile yet: this run records it) or "used".</summary>
    public static string State { get; private set; } = "none";

    /// <summary>Wall seconds of the warm-up call (the library's static constructors run in it, on the main thread).</summary>
    public static double InitSeconds { get; private set; }

    public static void Start(Options options)
    {
        if (options.JitProfileDirectory is not { } directory) return;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        State = JitWarmup.StartProfile(directory, $"{options.Mode}-{options.Net}.jitprofile") ? "used" : "recorded";
        InitSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
