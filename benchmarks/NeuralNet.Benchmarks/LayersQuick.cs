using System.Diagnostics;
using NeuralNet.Modules;

namespace NeuralNet.Benchmarks;

/// <summary>
/// <c>layers-quick [steps] [network…]</c>: median forward and backward time of each layer of the reference networks at 1
/// and 2 kernel threads, and of the loss, ZeroGrad and the SGD update, to see where a training step spends its time. Each
/// figure is printed as "median (minimum)": on a shared machine the minimum is the steadier of the two.
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
                var net = BenchmarkNetworks.CreateNamed(name);
                // At least 20 steps and a second: the JIT promotes hot methods to optimized code only after a delay, and
                // a layer timed in its first code version (TensorPrimitives.Sigmoid, say) looks many times slower.
                var warm = Stopwatch.StartNew();
                for (int i = 0; i < 20 || warm.ElapsedMilliseconds < 1000; i++) net.Step(i);
                IReadOnlyList<Module<float>> layers = net.Model.Layers;
                var forward = new double[layers.Count][];
                var backward = new double[layers.Count][];
                for (int l = 0; l < layers.Count; l++)
                {
                    forward[l] = new double[steps];
                    backward[l] = new double[steps];
                }
                var outputs = new NdArray<float>[layers.Count + 1];
                var zeroGrad = new double[steps];
                var loss = new double[steps];
                var update = new double[steps];
                for (int step = 0; step < steps; step++)
                {
                    long z0 = Stopwatch.GetTimestamp();
                    net.Optimizer.ZeroGrad();
                    zeroGrad[step] = Stopwatch.GetElapsedTime(z0).TotalMilliseconds;
                    outputs[0] = net.Inputs[0];
                    for (int l = 0; l < layers.Count; l++)
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        outputs[l + 1] = layers[l].Forward(outputs[l], training: true);
                        forward[l][step] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    }
                    long l0 = Stopwatch.GetTimestamp();
                    net.Loss.Forward(outputs[layers.Count], net.Labels[0]);
                    var gradient = net.Loss.Backward();
                    loss[step] = Stopwatch.GetElapsedTime(l0).TotalMilliseconds;
                    for (int l = layers.Count - 1; l >= 0; l--)
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        // Every layer here is a leaf, so it always returns its input gradient.
                        gradient = layers[l].Backward(gradient)!;
                        backward[l][step] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    }
                    long u0 = Stopwatch.GetTimestamp();
                    net.Optimizer.Step();
                    update[step] = Stopwatch.GetElapsedTime(u0).TotalMilliseconds;
                }
                Console.WriteLine($"{name}, {threads} thread(s): median ms per layer over {steps} passes");
                for (int l = 0; l < layers.Count; l++)
                {
                    Array.Sort(forward[l]);
                    Array.Sort(backward[l]);
                    Console.WriteLine($"  {l,2} {layers[l],-60} fwd {forward[l][steps / 2],8:F3} ({forward[l][0],7:F3}) bwd {backward[l][steps / 2],8:F3} ({backward[l][0],7:F3})");
                }
                Array.Sort(zeroGrad);
                Array.Sort(loss);
                Array.Sort(update);
                Console.WriteLine($"     {"loss forward + backward",-60}     {loss[steps / 2],8:F3} ({loss[0],7:F3})");
                Console.WriteLine($"     {"Sgd.ZeroGrad",-60}     {zeroGrad[steps / 2],8:F3} ({zeroGrad[0],7:F3})");
                Console.WriteLine($"     {"Sgd.Step",-60}     {update[steps / 2],8:F3} ({update[0],7:F3})");
            }
        }
    }
}
