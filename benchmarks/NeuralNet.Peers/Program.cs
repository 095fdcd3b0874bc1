// The NeuralNet side of the peer benchmark (benchmarks/peers/run.sh drives it; see docs/peers.md).
//
//   dotnet NeuralNet.Peers.dll train --net a [--steps a=500,b=300,c=100,d=3000,e=60] [--warmup 20] [--warmup-seconds 1]
//                                   [--repeats 5] [--budget 60] [--threads 2] [--data mnist|random] [--mnist-dir DIR]
//   dotnet NeuralNet.Peers.dll fit --net a [--epochs 8] [--examples a=60000,b=15000,c=6400,d=3000,e=6400] [--threads 2] [--data ...]
//                                   [--jit-profile DIR]
//   dotnet NeuralNet.Peers.dll fit-profile --net a [--epochs 8]   (rounds of raw step, Fit and a timed replica of Fit's loop)
//   dotnet NeuralNet.Peers.dll gather-only --net a [--epochs 8]   (the batch gather alone, per batch)
//   dotnet NeuralNet.Peers.dll sgemm [--sizes 128,256,512,1024] [--repeats 5] [--budget 60] [--threads 2]
//
// Prints one JSON object per line, in the format of benchmarks/peers/peers.py.

using NeuralNet;
using NeuralNet.Peers;

try
{
    var options = Options.Parse(args);
    JitProfile.Start(options);
    NeuralNetSettings.MaxDegreeOfParallelism = options.Threads;
    switch (options.Mode)
    {
        case "train":
            TrainBenchmark.Run(options);
            break;
        case "fit":
            FitBenchmark.Run(options);
            break;
        case "gather-only":
            FitProfile.GatherOnly(options);
            break;
        case "fit-profile":
            FitProfile.Run(options);
            break;
        case "sgemm":
            SgemmBenchmark.Run(options);
            break;
        default:
            throw new ArgumentException($"unknown mode '{options.Mode}'; expected 'train', 'fit', 'fit-profile', 'gather-only' or 'sgemm'.");
    }
    return 0;
}
catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException)
{
    Console.Error.WriteLine($"NeuralNet.Peers: {e.Message}");
    return 2;
}
