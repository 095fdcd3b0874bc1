using NeuralNet.Initialization;
using NeuralNet.Models;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using NeuralNet.Training;

namespace NeuralNet.Tests.Training;

public class MlpBuilderTests
{
    [Theory]
    [InlineData(new[] { 64 }, "Dense(784 -> 64)|ReLU|Dense(64 -> 10)")]
    [InlineData(new[] { 900, 400 }, "Dense(784 -> 900)|ReLU|Dense(900 -> 400)|ReLU|Dense(400 -> 10)")]
    [InlineData(new[] { 400, 100, 25 }, "Dense(784 -> 400)|ReLU|Dense(400 -> 100)|ReLU|Dense(100 -> 25)|ReLU|Dense(25 -> 10)")]
    [InlineData(new[] { 900, 784 }, "Dense(784 -> 900)|ReLU|Dense(900 -> 784)|ReLU|Dense(784 -> 10)")]
    public void Build_MakesTheListedArchitecture(int[] hidden, string layers)
    {
        var model = MlpBuilder.Build<float>(784, hidden, 10, HiddenActivation.ReLU, OutputActivation.Logits, null, new RandomGenerator(1));
        string.Join("|", model.Layers.Select(l => l.ToString())).Should().Be(layers);
        model.OutputShape.Should().Equal(10);
        model.Parameters.Should().HaveCount(2 * (hidden.Length + 1));
    }

    [Fact]
    public void Build_OutputAndHiddenActivations()
    {
        var spark = MlpBuilder.Build<float>(784, [64], 10, HiddenActivation.Tanh, OutputActivation.Sigmoid, null, new RandomGenerator(1));
        spark.Layers[1].Should().BeOfType<Tanh<float>>();
        spark.Layers[^1].Should().BeOfType<Sigmoid<float>>();
        var numpy = MlpBuilder.Build<float>(784, [64], 10, HiddenActivation.Sigmoid, OutputActivation.Softmax, Initializer.Gaussian(0.1), new RandomGenerator(1));
        numpy.Layers[1].Should().BeOfType<Sigmoid<float>>();
        numpy.Layers[^1].Should().BeOfType<Softmax<float>>();
        MlpBuilder.LossFor<float>(OutputActivation.Sigmoid).Name.Should().Be("MseLoss");
        MlpBuilder.LossFor<float>(OutputActivation.Softmax).Name.Should().Be("CrossEntropyLoss");
        MlpBuilder.LossFor<float>(OutputActivation.Logits).Name.Should().Be("SoftmaxCrossEntropyLoss");
    }

    [Fact]
    public void Build_IsSeededAndUsesTheInitializer()
    {
        var a = MlpBuilder.Build<float>(784, [32], 10, HiddenActivation.Sigmoid, OutputActivation.Softmax, Initializer.Gaussian(0.01), new RandomGenerator(5));
        var b = MlpBuilder.Build<float>(784, [32], 10, HiddenActivation.Sigmoid, OutputActivation.Softmax, Initializer.Gaussian(0.01), new RandomGenerator(5));
        var c = MlpBuilder.Build<float>(784, [32], 10, HiddenActivation.Sigmoid, OutputActivation.Softmax, Initializer.Gaussian(0.01), new RandomGenerator(6));
        TrainerTests.ShouldBeBitIdentical(TrainerTests.Snapshot(a), TrainerTests.Snapshot(b));
        TrainerTests.Snapshot(c)[0].Should().NotEqual(TrainerTests.Snapshot(a)[0]);
        var w = ((Dense<float>)a.Layers[0]).Weight.Value.Data;
        double mean = w.Average(v => (double)v), std = Math.Sqrt(w.Average(v => (double)v * v) - mean * mean);
        std.Should().BeApproximately(0.01, 0.0005, "N(0, 0.01²) weights");
        ((Dense<float>)a.Layers[0]).Bias!.Value.Data.Should().OnlyContain(v => v == 0);
    }

    [Fact]
    public void Build_RejectsBadSizes()
    {
        FluentActions.Invoking(() => MlpBuilder.Build<float>(784, [64, 0], 10, HiddenActivation.ReLU, OutputActivation.Logits, null, new RandomGenerator(1)))
            .Should().Throw<ArgumentException>().WithMessage("*hidden size 1*0*");
        FluentActions.Invoking(() => MlpBuilder.Build<float>(0, [64], 10, HiddenActivation.ReLU, OutputActivation.Logits, null, new RandomGenerator(1)))
            .Should().Throw<ArgumentException>().WithMessage("*input size*0*");
    }

    [Fact]
    public void Classifier_TrainsInOneCall_AndKeepsTrainingOnMoreData()
    {
        var (x1, y1) = MnistTestData.TrainSubset(1500);
        var (x2, y2) = MnistTestData.TrainSubset(1500, skip: 1500);
        var (tx, ty) = MnistTestData.TrainSubset(1000, skip: 3000);
        var mlp = MlpClassifier.Train(x1, y1, new MlpSettings { HiddenSizes = [32], Seed = 3, Training = new TrainerOptions { Epochs = 2, BatchSize = 30 } });
        double before = mlp.Evaluate(tx, ty).Accuracy;
        mlp.Fit(x2, y2, epochs: 3);
        double after = mlp.Evaluate(tx, ty).Accuracy;
        mlp.History.Epochs.Should().HaveCount(5);
        mlp.Trainer.Iteration.Should().Be(250);
        before.Should().BeGreaterThan(0.75);
        after.Should().BeGreaterThan(before);
        mlp.Parameters.Should().HaveCount(4);
    }

    [Fact]
    public void Classifier_TakesAnOptimizerAndAScheduleFactory()
    {
        var (x, y) = MnistTestData.TrainSubset(1000);
        var settings = new MlpSettings
        {
            HiddenSizes = [32],
            Seed = 3,
            Schedule = opt => new CosineAnnealingSchedule(opt, maxSteps: 3),
            Training = new TrainerOptions { Epochs = 3, BatchSize = 50 },
        };
        var mlp = new MlpClassifier<float>(settings, m => new AdamW<float>(ParameterGroups.SplitWeightDecay(m, 0.01), learningRate: 3e-3));
        mlp.Trainer.Optimizer.Should().BeOfType<AdamW<float>>();
        mlp.Trainer.Schedule.Should().BeOfType<CosineAnnealingSchedule>();
        var history = mlp.Fit(x, y);
        history.Epochs.Select(e => e.LearningRate).Should().Equal(3e-3, 3e-3 * (1 + Math.Cos(Math.PI / 3)) / 2, 3e-3 * (1 + Math.Cos(2 * Math.PI / 3)) / 2);
        history.Epochs[^1].TrainingAccuracy.Should().BeGreaterThan(0.8);
        FluentActions.Invoking(() => new MlpClassifier<float>(settings, _ => new Sgd<float>(new Sequential<float>([2], new Dense<float>(2, 2)), 0.1)))
            .Should().Throw<ArgumentException>().WithMessage("*exactly the model's parameters*");
    }
}
