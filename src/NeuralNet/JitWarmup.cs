using System.Runtime;
using System.Runtime.CompilerServices;

namespace NeuralNet;

/// <summary>
/// Moves the JIT's work out of the first training epoch: .NET's multicore JIT (<see cref="ProfileOptimization"/>) records
/// which methods a run compiled, and a later launch of the same program compiles them on a background thread from the
/// start of the process, while it loads data and builds its model, instead of on the training thread during epoch 1.
/// </summary>
/// <remarks>
/// <para>Call <see cref="StartProfile"/> once, first thing in <c>Main</c>, with a directory the program may write to and a
/// profile name per kind of run (e.g. one per network). The first launch records the profile (written when the process
/// exits); later launches replay it. With tiered compilation off (<c>&lt;TieredCompilation&gt;false&lt;/TieredCompilation&gt;</c>,
/// as the samples set it) the background thread compiles fully optimized code, so the first epoch runs as fast as the
/// steady state. Results do not change: only when code is compiled.</para>
/// <para>NeuralNet's static constructors run first (those of its generic types over <see cref="float"/> too): code compiled
/// in the background before its class is initialized keeps class-initialization checks in the hot loops, which measured
/// about 15% slower steady epochs on LeNet-5. ReadyToRun was measured and not used: with tiered compilation off its
/// precompiled code is kept for good, and the steady epoch of the batch-1 CNN took twice as long.</para>
/// </remarks>
public static class JitWarmup
{
    /// <summary>Starts recording (or replaying) a multicore-JIT profile.</summary>
    /// <param name="directory">Where the profile lives; created when missing.</param>
    /// <param name="profileName">The profile's file name within <paramref name="directory"/>.</param>
    /// <returns>True when a profile recorded by an earlier launch is being replayed; false when this launch records it.</returns>
    /// <exception cref="ArgumentException">A name is empty, or <paramref name="profileName"/> contains a directory part.</exception>
    /// <exception cref="IOException">The directory cannot be created.</exception>
    public static bool StartProfile(string directory, string profileName)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentException.ThrowIfNullOrEmpty(profileName);
        if (profileName.IndexOfAny([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar]) >= 0)
            throw new ArgumentException($"JitWarmup: the profile name '{profileName}' must be a file name, not a path.", nameof(profileName));
        Directory.CreateDirectory(directory);
        bool replay = File.Exists(Path.Combine(directory, profileName));
        InitializeTypes();
        ProfileOptimization.SetProfileRoot(directory);
        ProfileOptimization.StartProfile(profileName);
        return replay;
    }

    /// <summary>Runs the static constructor of every NeuralNet type, and of every generic one closed over float.</summary>
    private static void InitializeTypes()
    {
        foreach (var type in typeof(JitWarmup).Assembly.GetTypes())
        {
            var closed = type;
            if (type.IsGenericTypeDefinition)
            {
                if (type.GetGenericArguments().Length != 1) continue;
                try
                {
                    closed = type.MakeGenericType(typeof(float));
                }
                catch (ArgumentException)
                {
                    continue; // float does not meet the type's constraints
                }
            }
            RuntimeHelpers.RunClassConstructor(closed.TypeHandle);
        }
    }
}
