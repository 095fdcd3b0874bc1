using NeuralNet.Distributed;

return MpiCommunicator.Run(world =>
{
    Console.WriteLine($"rank {world.Rank} of {world.Size}");
    Span<float> f = [world.Rank + 1f, 10f * (world.Rank + 1)];
    world.AllReduce(f, ReduceOperation.Sum);
    Console.WriteLine($"rank {world.Rank}: {f[0]} {f[1]}");
    world.AllReduceSumOrdered(f);
    Console.WriteLine($"rank {world.Rank}: ordered {f[0]} {f[1]}");
    string? s = null;
    try { Console.WriteLine(s!.Length); } catch (NullReferenceException) { Console.WriteLine($"rank {world.Rank}: NRE ok"); }
    return 0;
});
