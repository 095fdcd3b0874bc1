using BenchmarkDotNet.Attributes;
using NeuralNet.Modules;

namespace NeuralNet.Benchmarks;

/// <summary>
/// <see cref="Conv2D{T}"/> forward (training mode, which keeps the batch's im2col columns) and backward for the two LeNet-5
/// convolutions at batch 64, and the small CNN's convolution at batch 1, at 1 and 2 kernel threads.
/// </summary>
/// <remarks>
/// The first layer of a network never needs its input gradient, so <c>lenet-conv1</c> and <c>small-cnn-conv</c> run backward
/// with <see cref="Module{T}.ComputeInputGradient"/> false (weight and bias gradients only), as inside the networks;
/// <c>lenet-conv2</c> also computes dx (GEMM + col2im).
/// </remarks>
[MemoryDiagnoser]
[MedianColumn]
public class Conv2DBenchmarks
{
    private Conv2D<float>? _conv;
    private NdArray<float>? _x, _dy;

    /// <summary>The layers: name → (batch, in channels, out channels, kernel, input side, bias, input gradient).
    /// lenet-conv1: 1→6 5×5 on 28×28, batch 64; lenet-conv2: 6→16 5×5 on 12×12, batch 64; small-cnn-conv: 1→8 3×3 on 28×28
    /// without bias, batch 1.</summary>
    private static readonly Dictionary<string, (int N, int C, int OC, int K, int Side, bool Bias, bool Dx)> s_layers = new()
    {
        ["lenet-conv1"] = (64, 1, 6, 5, 28, true, false),
        ["lenet-conv2"] = (64, 6, 16, 5, 12, true, true),
        ["small-cnn-conv"] = (1, 1, 8, 3, 28, false, false),
    };

    /// <summary>The layer names, for the parameter.</summary>
    public static IEnumerable<string> Layers => s_layers.Keys;

    /// <summary>The layer under test.</summary>
    [ParamsSource(nameof(Layers))]
    public string Layer { get; set; } = "";

    /// <summary><see cref="NeuralNetSettings.MaxDegreeOfParallelism"/> during the run.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>Builds the layer and its input and output gradient, and runs forward and backward once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        NeuralNetSettings.MaxDegreeOfParallelism = Threads;
        var (n, c, oc, k, side, bias, dx) = s_layers[Layer];
        var rng = new RandomGenerator(7);
        _conv = new Conv2D<float>(c, oc, k, bias: bias, random: rng) { ComputeInputGradient = dx };
        _x = new NdArray<float>(n, c, side, side);
        var xs = _x.AsSpan();
        for (int i = 0; i < xs.Length; i++) xs[i] = (float)rng.NextDouble();
        int outSide = side - k + 1;
        _dy = new NdArray<float>(n, oc, outSide, outSide);
        var dys = _dy.AsSpan();
        for (int i = 0; i < dys.Length; i++) dys[i] = (float)(rng.NextDouble() * 2 - 1) * 1e-3f;
        _conv.Forward(_x, training: true);
        _conv.Backward(_dy);
    }

    /// <summary>Forward in training mode: im2col of every image into the kept columns, one GEMM per image, bias.</summary>
    [Benchmark]
    public NdArray<float> Forward() => _conv!.Forward(_x!, training: true);

    /// <summary>Backward of the last forward: dW += dy·colsᵀ and db per image, plus dx = col2im(Wᵀ·dy) for lenet-conv2.</summary>
    /// <remarks>The gradients accumulate across invocations (as between two ZeroGrad calls); the work per call is the same.</remarks>
    [Benchmark]
    public NdArray<float> Backward() => _conv!.Backward(_dy!);
}
