using BenchmarkDotNet.Running;
using NeuralNet.Benchmarks;

// Quick modes print a figure in seconds; anything else goes to BenchmarkDotNet (e.g. --filter '*TrainingStep*').
var quickModes = new Dictionary<string, Action<string[]>>
{
    ["gemm-quick"] = rest => QuickGemm.Run("gemm-quick", rest),
    ["shapes-quick"] = rest => QuickGemm.Run("shapes-quick", rest),
    ["kernel-quick"] = _ => QuickGemm.MicroKernel(),
    ["gemm-efficiency"] = GemmEfficiency.Run,
    ["fma-peak"] = FmaPeak.Run,
    ["tanh-quick"] = TanhQuick.Run,
    ["layers-quick"] = LayersQuick.Run,
    ["layers-cpu"] = LayersCpu.Run,
    ["conv-probe"] = ConvProbe.Run,
    ["augment-cost"] = AugmentCost.Run,
    ["step-quick"] = StepQuick.Run,
};

if (args.Length > 0 && quickModes.TryGetValue(args[0], out var mode))
{
    mode(args[1..]);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(QuickGemm).Assembly).Run(args);
