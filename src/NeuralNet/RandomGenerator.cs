using System.Numerics;

namespace NeuralNet;

/// <summary>
/// The library's seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64). Every random number
/// in NeuralNet (initialization, shuffling, sampling) comes from one of these, so the same seed gives bit-identical
/// results on every machine and .NET version. Its state can be saved and restored for checkpoints.
/// </summary>
/// <remarks>
/// <para>An instance is not thread-safe: give each thread its own generator.</para>
/// <para>Layers built without a generator draw from the process-wide <see cref="Default"/>, seeded with 0 at start-up and
/// re-seeded by <see cref="SetDefaultSeed"/> (as <c>torch.manual_seed</c>): two layers of one shape then start different,
/// and a program that builds its layers in the same order gets the same weights on every run.</para>
/// </remarks>
public sealed class RandomGenerator
{
    private static readonly Lock DefaultLock = new();
    private static RandomGenerator s_default = new(0);

    private ulong _s0, _s1, _s2, _s3;

    /// <summary>The process-wide generator that layers created without one draw their initial weights from.</summary>
    /// <remarks>
    /// <para>Starts seeded with 0; <see cref="SetDefaultSeed"/> replaces it. The library draws from it only in layer
    /// constructors, each of which holds a lock for the whole draw, so constructing layers on several threads at once is
    /// safe, but which layer gets which numbers then depends on the thread timing: build models on one thread (or pass
    /// explicit generators) for reproducible weights. Code that draws from this instance itself must not do so from several
    /// threads at once.</para>
    /// </remarks>
    public static RandomGenerator Default
    {
        get
        {
            lock (DefaultLock) return s_default;
        }
    }

    /// <summary>Re-seeds <see cref="Default"/> (as <c>torch.manual_seed</c>): the layers created without a generator after
    /// this call get the same weights as after any other call with the same seed.</summary>
    /// <param name="seed">The seed.</param>
    /// <remarks>Thread-safe. Replaces the instance, so a reference to the old <see cref="Default"/> keeps its own sequence.</remarks>
    public static void SetDefaultSeed(ulong seed)
    {
        var fresh = new RandomGenerator(seed);
        lock (DefaultLock) s_default = fresh;
    }

    /// <summary>Runs <paramref name="draw"/> on <paramref name="random"/>, or on <see cref="Default"/> under its lock when it is null.</summary>
    internal static void Use(RandomGenerator? random, Action<RandomGenerator> draw)
    {
        if (random is not null)
        {
            draw(random);
            return;
        }
        lock (DefaultLock) draw(s_default);
    }

    /// <summary>Creates a generator from a seed.</summary>
    public RandomGenerator(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    /// <summary>Creates a generator from a saved <see cref="GetState"/>.</summary>
    /// <exception cref="ArgumentException">The state does not have four words or is all zero.</exception>
    public static RandomGenerator FromState(ReadOnlySpan<ulong> state)
    {
        var g = new RandomGenerator(0);
        g.SetState(state);
        return g;
    }

    /// <summary>The four 64-bit words of the internal state, for checkpoints.</summary>
    public ulong[] GetState() => [_s0, _s1, _s2, _s3];

    /// <summary>Restores a state returned by <see cref="GetState"/>.</summary>
    /// <exception cref="ArgumentException">The state does not have four words or is all zero.</exception>
    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 4)
            throw new ArgumentException($"RandomGenerator: a state has 4 words, got {state.Length}.", nameof(state));
        if ((state[0] | state[1] | state[2] | state[3]) == 0)
            throw new ArgumentException("RandomGenerator: an all-zero state is invalid for xoshiro256**.", nameof(state));
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
    }

    /// <summary>The next 64 uniformly distributed bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A uniform integer in [0, <paramref name="maxExclusive"/>), without modulo bias.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxExclusive"/> is less than 1.</exception>
    public int NextInt(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxExclusive, 1);
        // Lemire's multiply-shift with rejection.
        ulong range = (ulong)maxExclusive;
        while (true)
        {
            ulong x = NextUInt64() >> 32;
            ulong m = x * range;
            uint low = (uint)m;
            if (low >= range || low >= (uint)((0x1_0000_0000UL - range) % range))
                return (int)(m >> 32);
        }
    }

    /// <summary>A standard normal sample N(0, 1) by the Box–Muller transform (one sample per call, no cached state).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(); // (0, 1]
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Shuffles <paramref name="values"/> in place (Fisher–Yates).</summary>
    public void Shuffle<TItem>(Span<TItem> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
