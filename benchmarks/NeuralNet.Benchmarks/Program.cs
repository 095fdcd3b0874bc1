using BenchmarkDotNet.Running;
using NeuralNet.Benchmarks;

if (args.Length > 0 && args[0] is "gemm-quick" or "shapes-quick")
{
    QuickGemm.Run(args[0], args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "kernel-quick")
{
    QuickGemm.MicroKernel();
    return;
}

if (args.Length > 0 && args[0] == "gemm-efficiency")
{
    GemmEfficiency.Run(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "fma-peak")
{
    FmaPeak.Run(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "tanh-quick")
{
    TanhQuick.Run(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "layers-quick")
{
    LayersQuick.Run(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "augment-cost")
{
    AugmentCost.Run(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "step-quick")
{
    StepQuick.Run(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "path-ab")
{
    PathAb.Run(args[1..]);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(QuickGemm).Assembly).Run(args);
