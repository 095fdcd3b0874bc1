using BenchmarkDotNet.Attributes;

namespace NeuralNet.Benchmarks;

/// <summary>
/// One training step (zero gradients, forward, loss, backward, <see cref="Optimization.Sgd{T}"/> update) of each of the five
/// reference networks of <see cref="BenchmarkNetworks"/> and the modern CNN (at batch 16, and at the preset's training batch
/// of 128 as <c>modern-cnn@128</c>), at 1 and 2 kernel threads. The memory diagnoser's
/// Allocated column must read 0 B (or "-"): after warm-up a step allocates nothing.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class TrainingStepBenchmarks
{
    private ReferenceNetwork? _network;
    private long _step;

    /// <summary>The network names, for the parameter.</summary>
    public static IEnumerable<string> Networks => [.. BenchmarkNetworks.Names, "modern-cnn@128"];

    /// <summary>The network under test.</summary>
    [ParamsSource(nameof(Networks))]
    public string Network { get; set; } = "";

    /// <summary><see cref="NeuralNetSettings.MaxDegreeOfParallelism"/> during the run.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>Builds the network and runs a few steps so every buffer exists before BenchmarkDotNet's own warm-up.</summary>
    [GlobalSetup]
    public void Setup()
    {
        NeuralNetSettings.MaxDegreeOfParallelism = Threads;
        _network = BenchmarkNetworks.CreateNamed(Network);
        for (int i = 0; i < 2 * _network.BatchCount; i++) _network.Step(_step++);
    }

    /// <summary>One training step on the next of the network's fixed batches; returns the loss.</summary>
    [Benchmark]
    public float Step() => _network!.Step(_step++);
}
