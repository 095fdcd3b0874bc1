using System.Diagnostics;
using NeuralNet.Modules;

namespace NeuralNet.Benchmarks;

/// <summary>
/// <c>layers-quick [steps] [network…]</c>: median forward and backward time of each layer of the reference networks at 1
/// and 2 kernel threads, to see where a training step spends its time.
/// </summary>
internal static class LayersQuick
{
    public static void Run(string[] args)
    {
        int steps = args.Length > 0 && int.TryParse(args[0], out int s) ? s : 100;
        string[] names = args.Length > 1 ? args[1..] : ["lenet", "small-cnn"];
        foreach (string name in names)
        {
            foreach (int threads in (int[])[1, 2])
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                var net = ReferenceNetworks.Create(name);
                for (int i = 0; i < 20; i++) net.Step(i);
                IReadOnlyList<Module<float>> layers = net.Model.Layers;
                var forward = new double[layers.Count][];
                var backward = new double[layers.Count][];
                for (int l = 0; l < layers.Count; l++)
                {
                    forward[l] = new double[steps];
                    backward[l] = new double[steps];
                }
                var outputs = new Tensor<float>[layers.Count + 1];
                for (int step = 0; step < steps; step++)
                {
                    outputs[0] = net.Inputs[0];
                    for (int l = 0; l < layers.Count; l++)
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        outputs[l + 1] = layers[l].Forward(outputs[l], training: true);
                        forward[l][step] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    }
                    net.Loss.Forward(outputs[layers.Count], net.Labels[0]);
                    var gradient = net.Loss.Backward();
                    for (int l = layers.Count - 1; l >= 0; l--)
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        gradient = layers[l].Backward(gradient);
                        backward[l][step] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    }
                }
                Console.WriteLine($"{name}, {threads} thread(s): median ms per layer over {steps} passes");
                for (int l = 0; l < layers.Count; l++)
                {
                    Array.Sort(forward[l]);
                    Array.Sort(backward[l]);
                    Console.WriteLine($"  {l,2} {layers[l],-60} fwd {forward[l][steps / 2],8:F3} bwd {backward[l][steps / 2],8:F3}");
                }
            }
        }
    }
}
