using NeuralNet.Data;
using NeuralNet.Evaluation;
using NeuralNet.Losses;
using NeuralNet.Models;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Optimization;
using NeuralNet.Serialization;
using NeuralNet.Tests.Kernels;
using NeuralNet.Training;

namespace NeuralNet.Tests.Training;

/// <summary>
/// Training/evaluation mode through Trainer, Predictor and evaluation, and the seeded augmentation: the same weights bit for
/// bit at 1, 2 and 3 threads, and off by default.
/// </summary>
[Collection(KernelThreadSettingCollection.Name)]
public class ModeAndAugmentationTests
{
    private static Sequential<float> Net(RandomGenerator rng) => new([1, 12, 12],
        new Conv2D<float>(1, 4, 3, bias: false, random: rng), new BatchNorm2d<float>(4), new ReLU<float>(), new MaxPool2D<float>(2, 2),
        new Flatten<float>(), new Dense<float>(100, 16, random: rng), new BatchNorm1d<float>(16), new ReLU<float>(),
        new Dropout<float>(0.3, rng), new Dense<float>(16, 3, random: rng));

    private static (NdArray<float> X, int[] Y) Data(int n = 96)
    {
        var x = new NdArray<float>(n, 1, 12, 12);
        var y = new int[n];
        var r = new RandomGenerator(77);
        for (int i = 0; i < n; i++)
        {
            y[i] = i % 3;
            // A bright bar whose row depends on the class, plus noise: learnable, and augmentation visibly moves it.
            for (int p = 0; p < 144; p++) x.Data[i * 144 + p] = (float)(0.2 * r.NextDouble());
            for (int j = 2; j < 10; j++) x.Data[i * 144 + (3 + 3 * y[i]) * 12 + j] = 1f;
        }
        return (x, y);
    }

    private static float[] Train(int threads, ImageAugmentation? augmentation, int epochs = 2)
    {
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            NeuralNetSettings.MaxDegreeOfParallelism = threads;
            var rng = new RandomGenerator(42);
            var model = Net(rng);
            var trainer = new Trainer<float>(model, new SoftmaxCrossEntropyLoss<float>(), new Sgd<float>(model, 0.05, 0.9), random: rng);
            var (x, y) = Data();
            trainer.Fit(x, y, new TrainerOptions { Epochs = epochs, BatchSize = 32, Augmentation = augmentation });
            return model.Parameters.SelectMany(p => p.Value.Data)
                .Concat(ModelSerializer.NamedBuffers(model).SelectMany(b => b.Buffer.Value.Data)).ToArray();
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    [Fact]
    public void AugmentedTraining_GivesTheSameBits_AtAnyThreadCount()
    {
        var one = Train(1, new ImageAugmentation());
        Train(2, new ImageAugmentation()).Should().Equal(one);
        Train(3, new ImageAugmentation()).Should().Equal(one);
        Train(1, null).Should().NotEqual(one, "augmentation changes what the network sees");
        Train(1, new ImageAugmentation { MaxTranslation = 1 }).Should().NotEqual(one, "the settings reach the warp");
    }

    [Fact]
    public void Augmentation_IsOffByDefault()
    {
        new TrainerOptions().Augmentation.Should().BeNull();
        // Without augmentation the trainer draws only its shuffles: the bits equal a run with an explicit null.
        Train(1, null, epochs: 1).Should().Equal(Train(2, null, epochs: 1));
    }

    [Fact]
    public void ImageAugmentation_DrawsFourNumbersPerExample_AndKeepsImagesRecognizable()
    {
        var (x, _) = Data(8);
        var warped = new NdArray<float>(x.ShapeArray());
        var rng = new RandomGenerator(9);
        new ImageAugmentation().Apply(x, warped, rng);
        var expected = new RandomGenerator(9);
        for (int i = 0; i < 32; i++) expected.NextUInt64();
        rng.NextUInt64().Should().Be(expected.NextUInt64(), "exactly 4 draws per example");
        warped.Data.Should().NotEqual(x.Data);
        // ±2 px, ±10°, ±10% keep most of each image's mass: the warped pixel sum stays within 25% of the original.
        for (int e = 0; e < 8; e++)
        {
            double a = x.Data.Skip(e * 144).Take(144).Sum(), b = warped.Data.Skip(e * 144).Take(144).Sum();
            b.Should().BeInRange(0.75 * a, 1.25 * a);
        }
        var none = new ImageAugmentation { MaxTranslation = 0, MaxRotationDegrees = 0, MaxScaleChange = 0 };
        none.Apply(x, warped, rng);
        warped.Data.Should().Equal(x.Data, "a zero transform is the identity");
    }

    [Fact]
    public void ImageAugmentation_RejectsBadSettingsAndShapes()
    {
        var (x, _) = Data(2);
        var aug = new ImageAugmentation();
        aug.Invoking(a => a.Apply(x, x, new RandomGenerator(1))).Should().Throw<ArgumentException>().WithMessage("*another tensor*");
        aug.Invoking(a => a.Apply(new NdArray<float>(2, 144), new NdArray<float>(2, 144), new RandomGenerator(1)))
            .Should().Throw<ArgumentException>().WithMessage("*(N, C, H, W)*");
        new ImageAugmentation { MaxScaleChange = 1 }.Invoking(a => a.Validate()).Should().Throw<ArgumentException>().WithMessage("*MaxScaleChange*");
        var model = new Sequential<float>([4], new Dense<float>(4, 2));
        var trainer = new Trainer<float>(model, new SoftmaxCrossEntropyLoss<float>(), new Sgd<float>(model, 0.1));
        trainer.Invoking(t => t.Fit(new NdArray<float>(4, 4), [0, 1, 0, 1], new TrainerOptions { Augmentation = aug }))
            .Should().Throw<ArgumentException>().WithMessage("*Augmentation needs image inputs*");
    }

    /// <summary>Records the training flag of every Forward call.</summary>
    private sealed class ModeProbe : Module<float>
    {
        public List<bool> Modes { get; } = [];

        public override NdArray<float> Forward(NdArray<float> input, bool training = false)
        {
            Modes.Add(training);
            return input;
        }

        public override NdArray<float> Backward(NdArray<float> outputGradient) => outputGradient;

        public override int[] GetOutputShape(ReadOnlySpan<int> inputShape) => inputShape.ToArray();
    }

    [Fact]
    public void Trainer_TrainsInTrainingMode_AndEvaluatesAndPredictsInEvaluationMode()
    {
        var probe = new ModeProbe();
        var rng = new RandomGenerator(3);
        var model = new Sequential<float>([1, 12, 12], probe, new Flatten<float>(), new Dense<float>(144, 3, random: rng),
            new Dropout<float>(0.5, rng));
        var trainer = new Trainer<float>(model, new SoftmaxCrossEntropyLoss<float>(), new Sgd<float>(model, 0.05), random: rng);
        var (x, y) = Data(64);
        trainer.Fit(x, y, new TrainerOptions { Epochs = 1, BatchSize = 32 }, x, y);
        probe.Modes.Should().Equal([true, true, false], "two training steps, then the validation pass in evaluation mode");
        probe.Modes.Clear();
        trainer.Evaluate(x, y);
        probe.Modes.Should().OnlyContain(m => !m);

        // Predictor: evaluation mode, so dropout is off and predictions repeat exactly.
        var predictor = new Predictor<float>(model, OutputActivation.Logits);
        probe.Modes.Clear();
        var first = predictor.Predict(x);
        var second = predictor.Predict(x);
        probe.Modes.Should().OnlyContain(m => !m);
        second.Should().Equal(first);
    }

    [Fact]
    public void Evaluation_UsesRunningStatistics_NotTheBatch()
    {
        var rng = new RandomGenerator(8);
        var model = Net(rng);
        var trainer = new Trainer<float>(model, new SoftmaxCrossEntropyLoss<float>(), new Sgd<float>(model, 0.05, 0.9), random: rng);
        var (x, y) = Data();
        trainer.Fit(x, y, new TrainerOptions { Epochs = 3, BatchSize = 32 });
        // In evaluation mode an example's output does not depend on the rest of its batch.
        var alone = model.Forward(new NdArray<float>(x.Data.AsSpan(0, 144).ToArray(), 1, 1, 12, 12), training: false).Data.ToArray();
        var inBatch = model.Forward(x, training: false).Data.AsSpan(0, 3).ToArray();
        // (The products may round differently at another batch size; batch statistics would move them far more.)
        for (int k = 0; k < 3; k++) alone[k].Should().BeApproximately(inBatch[k], 1e-5f);
        trainer.Evaluate(x, y).Accuracy.Should().BeGreaterThan(0.9, "the bars are easy to tell apart");
    }
}
