using System.Runtime;

namespace NeuralNet.Peers;

/// <summary>
/// Multicore JIT (<see cref="ProfileOptimization"/>): the first run of a mode and network records which methods the JIT
/// compiled; a later run replays that profile, compiling those methods on a background thread from the start of the
/// process, while it loads the data and builds the model, instead of on the training thread during the first epoch.
/// With tiered compilation off the background thread compiles fully optimized code, so the steady state is the same.
/// </summary>
internal static class JitProfile
{
    /// <summary>"none" (no --jit-profile), "recorded" (no profile yet: this run records it) or "used".</summary>
    public static string State { get; private set; } = "none";

    public static void Start(Options options)
    {
        if (options.JitProfileDirectory is not { } directory) return;
        Directory.CreateDirectory(directory);
        string file = $"{options.Mode}-{options.Net}.jitprofile";
        State = File.Exists(Path.Combine(directory, file)) ? "used" : "recorded";
        ProfileOptimization.SetProfileRoot(directory);
        ProfileOptimization.StartProfile(file);
    }
}
