using System.Runtime;
using System.Runtime.CompilerServices;

namespace NeuralNet.Peers;

/// <summary>
/// Multicore JIT (<see cref="ProfileOptimization"/>): the first run of a mode and network records which methods the JIT
/// compiled; a later run replays that profile, compiling those methods on a background thread from the start of the
/// process, while it loads the data and builds the model, instead of on the training thread during the first epoch.
/// With tiered compilation off the background thread compiles fully optimized code.
/// </summary>
/// <remarks>
/// The static constructors of NeuralNet's types (and of its generic types over float) run first: code the background
/// thread compiles before a class is initialized keeps class-initialization checks and helper calls for its statics
/// (thread-static job caches among them), which made LeNet-5's steady epoch about 15% slower; initialized first, the
/// replayed code is as fast as code compiled on first call. Recording and replaying runs both do it, so they load the
/// same modules in the same order (the runtime ignores a profile whose module order differs).
/// </remarks>
internal static class JitProfile
{
    /// <summary>"none" (no --jit-profile), "recorded" (no profile yet: this run records it) or "used".</summary>
    public static string State { get; private set; } = "none";

    /// <summary>Wall seconds of the static constructors run before the profile starts (on the main thread).</summary>
    public static double InitSeconds { get; private set; }

    public static void Start(Options options)
    {
        if (options.JitProfileDirectory is not { } directory) return;
        Directory.CreateDirectory(directory);
        string file = $"{options.Mode}-{options.Net}.jitprofile";
        State = File.Exists(Path.Combine(directory, file)) ? "used" : "recorded";
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        InitializeTypes();
        InitSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
        ProfileOptimization.SetProfileRoot(directory);
        ProfileOptimization.StartProfile(file);
    }

    /// <summary>Runs the static constructor of every NeuralNet type and of every one-parameter generic type over float.</summary>
    private static void InitializeTypes()
    {
        foreach (var type in typeof(NdArray<>).Assembly.GetTypes())
        {
            try
            {
                var closed = type;
                if (type.IsGenericTypeDefinition)
                {
                    if (type.GetGenericArguments().Length != 1) continue;
                    closed = type.MakeGenericType(typeof(float));
                }
                RuntimeHelpers.RunClassConstructor(closed.TypeHandle);
            }
            catch (ArgumentException)
            {
                // float does not satisfy the type's constraints: the benchmark never uses that instantiation.
            }
        }
    }
}
