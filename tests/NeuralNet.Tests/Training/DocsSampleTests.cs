using NeuralNet.Data;
using NeuralNet.Evaluation;
using NeuralNet.Models;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using NeuralNet.Training;

namespace NeuralNet.Tests.Training;

/// <summary>The code samples of docs/training.md, compiled and run on a subset so the documentation cannot rot.</summary>
public sealed class DocsSampleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nn-docs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void OneCallSample_Runs()
    {
        Dataset train = MnistTestData.TrainSet.Take(2000), test = MnistTestData.TestSet.Take(500);
        // --- docs/training.md: one call ---
        var mlp = MlpClassifier.Train(train.Features, train.Labels, new MlpSettings
        {
            HiddenSizes = [64],                    // or [100], [900, 400], [400, 100, 25], [900, 784]
            Hidden = HiddenActivation.ReLU,
            Output = OutputActivation.Logits,      // fused softmax cross-entropy
            LearningRate = 0.1,
            Seed = 42,
            Training = new TrainerOptions { Epochs = 2, BatchSize = 32 },
        });
        EvaluationResult result = mlp.Evaluate(test);
        Prediction p = mlp.Predict(test.Features.AsSpan()[..784]);   // class and probability of one image
        mlp.Fit(train, epochs: 1);                                     // keep training (on more data)
        // --- end ---
        result.Accuracy.Should().BeGreaterThan(0.8);
        p.Probability.Should().BeInRange(0.1, 1.0);
        mlp.History.Epochs.Should().HaveCount(3);
    }

    [Fact]
    public void TrainerSample_Runs()
    {
        Dataset train = MnistTestData.TrainSet.Take(1000), test = MnistTestData.TestSet.Take(300);
        string dir = _dir;
        // --- docs/training.md: trainer ---
        var random = new RandomGenerator(seed: 1);
        var model = MlpBuilder.Build<float>(784, [64], 10, HiddenActivation.Sigmoid, OutputActivation.Logits, initializer: null, random);
        var sgd = new Sgd<float>(model, learningRate: 0.5, momentum: 0.9, weightDecay: 1e-4);
        var schedule = new StepDecaySchedule(sgd, gamma: 0.97);        // attached to sgd, owns its rate: ×0.97 after every epoch
        var trainer = new Trainer<float>(model, MlpBuilder.LossFor<float>(OutputActivation.Logits), sgd, random);
        trainer.Callbacks.Add(new EarlyStopping<float>(TrainingMetric.ValidationLoss, patience: 3));
        trainer.Callbacks.Add(new CheckpointCallback<float>(Path.Combine(dir, "ckpt-{epoch}.safetensors"), everyEpochs: 5));
        var progress = new Progress<TrainingProgress>(p => Console.WriteLine($"epoch {p.Epoch}: val acc {p.ValidationAccuracy:P2}"));
        History history = trainer.Fit(train, new TrainerOptions { Epochs = 5, BatchSize = 64, ValidationSplit = 0.1 }, progress: progress);
        EvaluationResult r = trainer.Evaluate(test);
        Console.WriteLine(r.ConfusionMatrix.ToText(percent: true));
        foreach (ClassMetrics c in r.ConfusionMatrix.PerClass())
            Console.WriteLine($"{c.Class}: P {c.Precision:F3} R {c.Recall:F3} F1 {c.F1:F3}");
        File.WriteAllText(Path.Combine(dir, "history.csv"), history.EpochsToCsv());
        // --- end ---
        File.Exists(Path.Combine(dir, "ckpt-5.safetensors")).Should().Be(history.Epochs.Count == 5);
        r.Accuracy.Should().BeGreaterThan(0.7);
        history.Epochs[0].LearningRate.Should().Be(0.5);
    }
}
