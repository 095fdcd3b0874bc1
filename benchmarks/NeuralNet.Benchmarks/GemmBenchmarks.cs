using BenchmarkDotNet.Attributes;
using K = NeuralNet.Kernels.Cpu;

namespace NeuralNet.Benchmarks;

/// <summary>Square SGEMM C = A·B at 1 thread and at all threads.</summary>
[MemoryDiagnoser]
public class SquareGemmBenchmarks
{
    private float[] _a = [], _b = [], _c = [];

    /// <summary>Matrix size n (n×n times n×n).</summary>
    [Params(128, 256, 512, 1024)]
    public int Size { get; set; }

    /// <summary>Thread limit; 0 means all logical processors.</summary>
    [Params(1, 0)]
    public int Threads { get; set; }

    /// <summary>Allocates and fills the operands.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _a = BenchmarkData.Random(Size * Size, 1);
        _b = BenchmarkData.Random(Size * Size, 2);
        _c = new float[Size * Size];
        NeuralNetSettings.MaxDegreeOfParallelism = Threads == 0 ? Environment.ProcessorCount : Threads;
    }

    /// <summary>One GEMM (2·n³ flops).</summary>
    [Benchmark]
    public void Sgemm() => K.Gemm<float>(false, false, Size, Size, Size, _a, Size, _b, Size, _c, Size, false);
}

/// <summary>The GEMMs the MNIST reference networks run per step, with their transpositions, at all threads.</summary>
[MemoryDiagnoser]
public class NetworkGemmBenchmarks
{
    private float[] _a = [], _b = [], _c = [];
    private QuickGemm.Shape _shape;

    /// <summary>The shapes of <see cref="QuickGemm.NetworkShapes"/>, by name.</summary>
    public static IEnumerable<string> ShapeNames => QuickGemm.NetworkShapes().Select(s => s.Name);

    /// <summary>The shape under test.</summary>
    [ParamsSource(nameof(ShapeNames))]
    public string Shape { get; set; } = "";

    /// <summary>Thread limit; 0 means all logical processors.</summary>
    [Params(1, 0)]
    public int Threads { get; set; }

    /// <summary>Allocates and fills the operands.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _shape = QuickGemm.NetworkShapes().Single(s => s.Name == Shape);
        _a = BenchmarkData.Random(_shape.M * _shape.K, 1);
        _b = BenchmarkData.Random(_shape.K * _shape.N, 2);
        _c = new float[_shape.M * _shape.N];
        NeuralNetSettings.MaxDegreeOfParallelism = Threads == 0 ? Environment.ProcessorCount : Threads;
    }

    /// <summary>One GEMM of the shape.</summary>
    [Benchmark]
    public void Gemm()
    {
        QuickGemm.Shape s = _shape;
        K.Gemm<float>(s.TransA, s.TransB, s.M, s.N, s.K, _a, s.TransA ? s.M : s.K, _b, s.TransB ? s.K : s.N, _c, s.N, false);
    }
}

/// <summary>im2col, col2im and 2×2 max pooling on the LeNet-5 and small-CNN shapes, fast against naive.</summary>
[MemoryDiagnoser]
public class ConvKernelBenchmarks
{
    private float[] _x = [], _cols = [], _dx = [], _pooled = [];
    private int[] _argmax = [];
    private int _outH, _outW;

    /// <summary>Layer: "lenet-c1" (1×28×28, 5×5), "lenet-c2" (6×12×12, 5×5), "cnn-c1" (1×28×28, 3×3).</summary>
    [Params("lenet-c1", "lenet-c2", "cnn-c1")]
    public string Layer { get; set; } = "";

    private (int C, int H, int W, int K) Geometry => Layer switch
    {
        "lenet-c1" => (1, 28, 28, 5),
        "lenet-c2" => (6, 12, 12, 5),
        _ => (1, 28, 28, 3),
    };

    /// <summary>Allocates buffers for one image.</summary>
    [GlobalSetup]
    public void Setup()
    {
        (int c, int h, int w, int k) = Geometry;
        _outH = h - k + 1;
        _outW = w - k + 1;
        _x = BenchmarkData.Random(c * h * w, 3);
        _cols = new float[c * k * k * _outH * _outW];
        _dx = new float[c * h * w];
        _pooled = new float[c * (h / 2) * (w / 2)];
        _argmax = new int[_pooled.Length];
    }

    /// <summary>Fast im2col.</summary>
    [Benchmark]
    public void Im2Col()
    {
        (int c, int h, int w, int k) = Geometry;
        K.Im2Col<float>(_cols, _x, c, h, w, k, k, 1, 0, _outH, _outW);
    }

    /// <summary>Reference im2col.</summary>
    [Benchmark(Baseline = true)]
    public void Im2ColNaive()
    {
        (int c, int h, int w, int k) = Geometry;
        K.Im2ColNaive<float>(_cols, _x, c, h, w, k, k, 1, 0, _outH, _outW);
    }

    /// <summary>Fast col2im.</summary>
    [Benchmark]
    public void Col2Im()
    {
        (int c, int h, int w, int k) = Geometry;
        K.Col2Im<float>(_dx, _cols, c, h, w, k, k, 1, 0, _outH, _outW);
    }

    /// <summary>Reference col2im.</summary>
    [Benchmark]
    public void Col2ImNaive()
    {
        (int c, int h, int w, int k) = Geometry;
        K.Col2ImNaive<float>(_dx, _cols, c, h, w, k, k, 1, 0, _outH, _outW);
    }

    /// <summary>Fast 2×2 stride-2 max pooling of the input planes.</summary>
    [Benchmark]
    public void MaxPool()
    {
        (int c, int h, int w, _) = Geometry;
        K.MaxPoolForward<float>(_pooled, _argmax, _x, c, h, w, 2, 2, h / 2, w / 2);
    }

    /// <summary>Reference max pooling.</summary>
    [Benchmark]
    public void MaxPoolNaive()
    {
        (int c, int h, int w, _) = Geometry;
        K.MaxPoolForwardNaive<float>(_pooled, _argmax, _x, c, h, w, 2, 2, h / 2, w / 2);
    }
}

internal static class BenchmarkData
{
    public static float[] Random(int length, ulong seed)
    {
        var rng = new RandomGenerator(seed);
        var data = new float[length];
        for (int i = 0; i < length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
        return data;
    }
}
