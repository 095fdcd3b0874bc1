using BenchmarkDotNet.Attributes;
using NeuralNet.Kernels;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Benchmarks;

/// <summary>
/// The NaN/infinity search every input check runs (<see cref="Finiteness.AllFinite{T}"/>) against
/// <c>TensorPrimitives.IsFiniteAll</c>, on the sizes the networks check each step: the MLP's, LeNet-5's and the deep
/// MLP's input batches and a batch of logits.
/// </summary>
/// <remarks>Each call reads the values at one of 8 offsets (0, 3, …, 21 floats) into a larger array, the same sequence
/// for both: how a span sits against the 64-byte cache lines changes these timings by up to 2×.</remarks>
[MemoryDiagnoser]
[MedianColumn]
public class FinitenessBenchmarks
{
    private readonly float[] _values = new float[256 * 784 + 32];
    private int _call;

    /// <summary>Floats searched per call.</summary>
    [Params(256 * 784, 64 * 784, 30 * 784, 256 * 10)]
    public int Length { get; set; }

    /// <summary>Fills the values with finite grey levels.</summary>
    [GlobalSetup]
    public void Setup()
    {
        for (int i = 0; i < _values.Length; i++) _values[i] = i % 255 / 255f;
    }

    /// <summary>The runtime's search.</summary>
    [Benchmark(Baseline = true)]
    public bool IsFiniteAll() => TensorPrimitives.IsFiniteAll<float>(_values.AsSpan(_call++ % 8 * 3, Length));

    /// <summary>The library's search (on the kernel threads from 64k floats).</summary>
    [Benchmark]
    public bool AllFinite() => Finiteness.AllFinite<float>(_values.AsSpan(_call++ % 8 * 3, Length));
}
