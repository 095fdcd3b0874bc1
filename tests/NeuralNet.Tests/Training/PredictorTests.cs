using NeuralNet.Evaluation;
using NeuralNet.Models;
using NeuralNet.Training;

namespace NeuralNet.Tests.Training;

public class PredictorTests
{
    [Fact]
    public void ParallelCallers_GetTheSameAnswersAsOneThread()
    {
        var (x, y) = MnistTestData.TrainSubset(2000);
        var mlp = MlpClassifier.Train(x, y, new MlpSettings { HiddenSizes = [32], Seed = 11, Training = new TrainerOptions { Epochs = 1, BatchSize = 20 } });
        var (tx, _) = MnistTestData.TrainSubset(400, skip: 2000);
        var sequential = new Prediction[400];
        for (int i = 0; i < 400; i++) sequential[i] = mlp.Predict(tx.AsSpan().Slice(i * 784, 784));

        var parallel = new Prediction[400];
        var batches = new Prediction[8][];
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, worker =>
        {
            // every worker predicts every image, in a different order, plus one batch call
            for (int k = 0; k < 400; k++)
            {
                int i = (k * 7 + worker * 50) % 400;
                var p = mlp.Predict(tx.AsSpan().Slice(i * 784, 784));
                if (worker == 3) parallel[i] = p;
                else if (p != sequential[i]) throw new InvalidOperationException($"worker {worker} image {i}: {p} vs {sequential[i]}");
            }
            batches[worker] = mlp.Predict(tx);
        });
        parallel.Should().Equal(sequential);
        foreach (var b in batches) b.Should().Equal(batches[0]);
        batches[0].Select(p => p.Class).Should().Equal(sequential.Select(p => p.Class));
        sequential.Should().OnlyContain(p => p.Probability > 0.1 && p.Probability <= 1.0);
    }

    [Fact]
    public void Probabilities_AreTheSoftmaxOfTheLogits()
    {
        var (x, y) = MnistTestData.TrainSubset(500);
        var mlp = MlpClassifier.Train(x, y, new MlpSettings { HiddenSizes = [16], Training = new TrainerOptions { BatchSize = 25 } });
        var image = x.AsSpan().Slice(0, 784);
        var probabilities = mlp.Predictor.PredictProbabilities(image);
        probabilities.Sum().Should().BeApproximately(1.0, 1e-12);
        var p = mlp.Predict(image);
        p.Class.Should().Be(Array.IndexOf(probabilities, probabilities.Max()));
        p.Probability.Should().BeApproximately(probabilities.Max(), 1e-12);
    }

    [Fact]
    public void BadExamples_Throw()
    {
        var (x, y) = MnistTestData.TrainSubset(100);
        var mlp = MlpClassifier.Train(x, y, new MlpSettings { HiddenSizes = [8], Training = new TrainerOptions { BatchSize = 50 } });
        FluentActions.Invoking(() => mlp.Predict(new float[783])).Should().Throw<ArgumentException>().WithMessage("*784 values*got 783*");
        var bad = new float[784];
        bad[100] = float.PositiveInfinity;
        FluentActions.Invoking(() => mlp.Predict(bad)).Should().Throw<ArgumentException>().WithMessage("*value 100*not finite*");
        FluentActions.Invoking(() => mlp.Predict(new NdArray<float>(3, 28, 28))).Should().Throw<ArgumentException>().WithMessage("*(N, 784)*(3, 28, 28)*");
    }

    [Theory]
    [InlineData(OutputActivation.Logits)]
    [InlineData(OutputActivation.Softmax)]
    [InlineData(OutputActivation.Sigmoid)]
    public void OutputActivation_IsReadFromTheModel(OutputActivation output)
    {
        var model = MlpBuilder.Build<float>(784, [8], 10, HiddenActivation.ReLU, output, null, new RandomGenerator(3));
        Predictor<float>.InferOutput(model).Should().Be(output);
        var predictor = new Predictor<float>(model);
        predictor.Output.Should().Be(output);
        var nested = new NeuralNet.Modules.Sequential<float>([784], model);
        new Predictor<float>(nested).Output.Should().Be(output, "a nested chain's last layer decides");

        var (x, _) = MnistTestData.TrainSubset(1);
        double[] p = predictor.PredictProbabilities(x.AsSpan());
        if (output != OutputActivation.Sigmoid) p.Sum().Should().BeApproximately(1.0, 1e-6, "logits and softmax outputs both give a distribution");
    }

    [Fact]
    public void OutputActivation_ThatContradictsTheModel_Throws()
    {
        var model = MlpBuilder.Build<float>(784, [8], 10, HiddenActivation.ReLU, OutputActivation.Softmax, null, new RandomGenerator(3));
        var act = () => new Predictor<float>(model, OutputActivation.Logits);
        act.Should().Throw<ArgumentException>().WithMessage("Predictor: output Logits contradicts the model, whose last layer (Softmax) makes it Softmax*");
        new Predictor<float>(model, OutputActivation.Softmax).Output.Should().Be(OutputActivation.Softmax);
    }

    [Fact]
    public void MlpClassifier_SavesAndLoads_WithIdenticalPredictions()
    {
        var (x, y) = MnistTestData.TrainSubset(600);
        var settings = new MlpSettings { HiddenSizes = [24, 12], Hidden = HiddenActivation.Tanh, Output = OutputActivation.Softmax, Seed = 5,
            Training = new TrainerOptions { BatchSize = 30 } };
        var mlp = MlpClassifier.Train(x, y, settings);
        using var dir = new NeuralNet.Tests.Serialization.TempDirectory();
        var path = dir.File("mlp.safetensors");
        mlp.Save(path);

        var loaded = MlpClassifier.Load<float>(path);
        loaded.Settings.InputSize.Should().Be(784);
        loaded.Settings.HiddenSizes.Should().Equal(24, 12);
        loaded.Settings.Classes.Should().Be(10);
        loaded.Settings.Hidden.Should().Be(HiddenActivation.Tanh);
        loaded.Settings.Output.Should().Be(OutputActivation.Softmax);
        loaded.Predict(x).Should().Equal(mlp.Predict(x), "the loaded weights are bit-identical");
        loaded.Evaluate(x, y).Accuracy.Should().Be(mlp.Evaluate(x, y).Accuracy);

        // It keeps training: one more epoch changes the weights and keeps the loss finite.
        var before = loaded.Parameters[0].Value.Clone();
        loaded.Fit(x, y, epochs: 1).Last.TrainingLoss.Should().BeLessThan(2.5);
        loaded.Parameters[0].Value.Data.Should().NotEqual(before.Data);
    }

    [Fact]
    public void MlpClassifier_Load_RejectsAModelThatIsNotAnMlp()
    {
        var model = new NeuralNet.Modules.Sequential<float>([1, 6, 6], new NeuralNet.Modules.Conv2D<float>(1, 2, 3, random: new RandomGenerator(1)),
            new NeuralNet.Modules.Flatten<float>(), new NeuralNet.Modules.Dense<float>(32, 3, random: new RandomGenerator(2)));
        using var dir = new NeuralNet.Tests.Serialization.TempDirectory();
        var path = dir.File("cnn.safetensors");
        NeuralNet.Serialization.ModelSerializer.Save(model, path);
        var act = () => MlpClassifier.Load<float>(path);
        act.Should().Throw<InvalidDataException>().WithMessage("*layer 0 (Conv2D) is not where an MLP has a Dense layer*");
    }
}
