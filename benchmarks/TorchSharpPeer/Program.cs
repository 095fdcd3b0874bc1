// The TorchSharp side of the peer benchmark (benchmarks/peers/run.sh drives it; see docs/peers.md): the four reference
// networks written as a TorchSharp user writes them (nn.Sequential of torch.nn modules, nn.CrossEntropyLoss,
// torch.optim.SGD, eager mode, one dispose scope per step), and square SGEMM through torch.mm.
//
//   dotnet TorchSharpPeer.dll train --net a [--steps ...] [--repeats 3] [--budget 30] [--threads 2] [--data mnist|random]
//   dotnet TorchSharpPeer.dll fit --net a [--epochs 8] [--examples a=60000,b=15000,c=6400,d=3000] [--threads 2]
//   dotnet TorchSharpPeer.dll sgemm [--sizes 128,256,512,1024] [--repeats 3] [--threads 2]
//
// Prints one JSON object per line, in the format of benchmarks/peers/peers.py, with framework "torchsharp".

using NeuralNet.Peers;
using TorchSharpPeer;

try
{
    var options = Options.Parse(args);
    TorchSharp.torch.set_num_threads(options.Threads);
    switch (options.Mode)
    {
        case "train":
            Peer.Train(options);
            break;
        case "fit":
            Peer.Fit(options);
            break;
        case "sgemm":
            Peer.Sgemm(options);
            break;
        default:
            throw new ArgumentException($"unknown mode '{options.Mode}'; expected 'train', 'fit' or 'sgemm'.");
    }
    return 0;
}
catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException)
{
    Console.Error.WriteLine($"TorchSharpPeer: {e.Message}");
    return 2;
}
