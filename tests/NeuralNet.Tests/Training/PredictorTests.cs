using NeuralNet.Evaluation;
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
}
