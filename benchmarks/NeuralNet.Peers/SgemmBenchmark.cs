namespace NeuralNet.Peers;

/// <summary>Times square single-precision GEMM, C = A·B, through the library's internal <c>Kernels.Gemm</c>.</summary>
internal static class SgemmBenchmark
{
    public static void Run(Options options)
    {
        var random = new RandomGenerator(7);
        foreach (int n in options.Sizes)
        {
            var a = new float[n * n];
            var b = new float[n * n];
            var c = new float[n * n];
            for (int i = 0; i < a.Length; i++) a[i] = (float)random.NextGaussian();
            for (int i = 0; i < b.Length; i++) b[i] = (float)random.NextGaussian();

            SgemmTiming.Measure("neuralnet", n, () => Kernels.Cpu.Gemm<float>(false, false, n, n, n, a, n, b, n, c, n, accumulate: false), options);
        }
    }
}
