using NeuralNet.Models;
using NeuralNet.Optimization;
using NeuralNet.Tests.Kernels;
using NeuralNet.Training;
using K = NeuralNet.Kernels.Cpu;

namespace NeuralNet.Tests.Training;

/// <summary>
/// <see cref="Trainer{T}.Fit(NdArray{T}, int[], TrainerOptions, NdArray{T}, int[], IProgress{TrainingProgress}, CancellationToken)"/>
/// trains on exactly the batches of its permutation: the same weights, bit for bit, as a plain loop that shuffles with the
/// same generator, gathers every batch with the naive reference gather and takes the raw step, at 1, 2 and 3 kernel
/// threads, with batches large enough for the parallel gather and a smaller last batch.
/// </summary>
[Collection(KernelThreadSettingCollection.Name)]
public class BatchGatherTests
{
    private const int Examples = 1000, Batch = 256, Epochs = 2;

    [Fact]
    public void Fit_EqualsTheRawStepOnNaivelyGatheredBatches_BitForBit_AtAnyThreadCount()
    {
        var (x, y) = MnistTestData.TrainSubset(Examples);
        // The parallel gather must be in play: a full batch (and the last one, 232 rows) is above its threshold.
        ((long)(Examples % Batch) * 784 * sizeof(float)).Should().BeGreaterThanOrEqualTo(K.GatherParallelMinBytes);
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            NeuralNetSettings.MaxDegreeOfParallelism = 1;
            var reference = ReferenceLoop(x, y);
            foreach (int threads in new[] { 1, 2, 3 })
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                var random = new RandomGenerator(7);
                var model = MlpBuilder.Build<float>(784, [64], 10, HiddenActivation.Sigmoid, OutputActivation.Logits, null, random);
                var trainer = new Trainer<float>(model, MlpBuilder.LossFor<float>(OutputActivation.Logits), new Sgd<float>(model, 0.1), random);
                trainer.Fit(x, y, new TrainerOptions { Epochs = Epochs, BatchSize = Batch, Shuffle = true });
                trainer.History.Epochs.Should().HaveCount(Epochs).And.OnlyContain(e => e.Iterations == 4);
                TrainerTests.ShouldBeBitIdentical(TrainerTests.Snapshot(model), reference);
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    /// <summary>The weights after the plain loop: the generator's shuffle of 0…N−1 per epoch, naive gathers, raw steps.</summary>
    private static float[][] ReferenceLoop(NdArray<float> x, int[] y)
    {
        var random = new RandomGenerator(7);
        var model = MlpBuilder.Build<float>(784, [64], 10, HiddenActivation.Sigmoid, OutputActivation.Logits, null, random);
        var loss = MlpBuilder.LossFor<float>(OutputActivation.Logits);
        var sgd = new Sgd<float>(model, 0.1);
        var order = new int[Examples];
        for (int epoch = 0; epoch < Epochs; epoch++)
        {
            for (int i = 0; i < Examples; i++) order[i] = i;
            random.Shuffle(order.AsSpan());
            for (int offset = 0; offset < Examples; offset += Batch)
            {
                int b = Math.Min(Batch, Examples - offset);
                var rows = order.AsSpan(offset, b);
                var xb = new NdArray<float>(b, 784);
                K.GatherRowsNaive<float>(xb.AsSpan(), x.AsSpan(), 784, rows);
                var yb = new int[b];
                for (int i = 0; i < b; i++) yb[i] = y[rows[i]];
                sgd.ZeroGrad();
                var logits = model.Forward(xb, training: true);
                loss.Forward(logits, yb);
                model.Backward(loss.Backward());
                sgd.Step();
            }
        }
        return TrainerTests.Snapshot(model);
    }
}
