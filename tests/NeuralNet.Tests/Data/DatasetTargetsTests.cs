using NeuralNet.Data;

namespace NeuralNet.Tests.Data;

public class DatasetTargetsTests
{
    [Fact]
    public void FromArrays_WithLabels_CopiesAndInfersClassCount()
    {
        var x = new float[,] { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } };
        var data = Dataset.FromArrays(x, [0, 1, 1, 0]);
        data.Count.Should().Be(4);
        data.ClassCount.Should().Be(2);
        data.HasTargets.Should().BeFalse();
        data.Features.ShapeArray().Should().Equal(4, 2);
        data.Features.Data.Should().Equal(0, 0, 0, 1, 1, 0, 1, 1);
        x[0, 0] = 5;
        data.Features.Data[0].Should().Be(0, "the arrays are copied");
        Dataset.FromArrays(x, [0, 1, 1, 0], classCount: 5).ClassCount.Should().Be(5);
        FluentActions.Invoking(() => Dataset.FromArrays(x, [0, 1, 1])).Should().Throw<ArgumentException>().WithMessage("*4 examples*3 labels*");
        FluentActions.Invoking(() => Dataset.FromArrays(x, [0, 1, 1, 7], classCount: 3)).Should().Throw<ArgumentException>().WithMessage("*label 7 of example 3*");
    }

    [Fact]
    public void FromArrays_WithTargets_HoldsTargetsNotLabels()
    {
        var x = new float[,] { { 1, 2 }, { 3, 4 }, { 5, 6 } };
        var data = Dataset.FromArrays(x, new float[,] { { 10, 11 }, { 20, 21 }, { 30, 31 } }, "tiny");
        data.HasTargets.Should().BeTrue();
        data.ClassCount.Should().Be(0);
        data.Targets.ShapeArray().Should().Equal(3, 2);
        data.Targets.Data.Should().Equal(10, 11, 20, 21, 30, 31);
        data.ToString().Should().Be("Dataset 'tiny': 3 examples of shape (2), 2 target(s) each");
        FluentActions.Invoking(() => data.Labels).Should().Throw<InvalidOperationException>().WithMessage("Dataset 'tiny' holds float targets (3, 2), not class labels*");
        FluentActions.Invoking(() => data.OneHot()).Should().Throw<InvalidOperationException>();

        var single = Dataset.FromArrays(x, new float[] { 1.5f, 2.5f, 3.5f });
        single.Targets.ShapeArray().Should().Equal(3, 1);
        FluentActions.Invoking(() => Dataset.FromArrays(x, new float[] { 1, 2 })).Should().Throw<ArgumentException>().WithMessage("*3 examples in features*2 in targets*");
        FluentActions.Invoking(() => Dataset.FromArrays(x, new float[] { 1, float.NaN, 2 })).Should().Throw<ArgumentException>().WithMessage("*target 0 of example 1 is NaN*");
        FluentActions.Invoking(() => Dataset.FromArrays(x, [0, 1, 2]).Targets).Should().Throw<InvalidOperationException>().WithMessage("*holds class labels*");
    }

    [Fact]
    public void SelectingExamples_CarriesTheirTargets()
    {
        var x = new float[6, 2];
        var y = new float[6, 3];
        for (int i = 0; i < 6; i++)
        {
            x[i, 0] = i;
            x[i, 1] = -i;
            for (int k = 0; k < 3; k++) y[i, k] = 10 * i + k;
        }
        var data = Dataset.FromArrays(x, y);
        data.Slice(2, 2).Targets.Data.Should().Equal(20, 21, 22, 30, 31, 32);
        data.Take(1).Targets.Data.Should().Equal(0, 1, 2);
        var selected = data.Select([5, 0]);
        selected.Features.Data.Should().Equal(5, -5, 0, 0);
        selected.Targets.Data.Should().Equal(50, 51, 52, 0, 1, 2);
        var parts = data.Split(new RandomGenerator(3), 4, 2);
        parts.Should().HaveCount(2);
        foreach (var part in parts)
            for (int i = 0; i < part.Count; i++)
                part.Targets[i, 0].Should().Be(10 * part.Features[i, 0], "each example keeps its own target row");
        var shuffled = data.Shuffle(new RandomGenerator(4));
        for (int i = 0; i < 6; i++) shuffled.Targets[i, 2].Should().Be(10 * shuffled.Features[i, 0] + 2);
        data.Reshape(2, 1).Targets.Should().BeSameAs(data.Targets);

        var features = new double[4];
        var targets = new double[6];
        data.CopyBatch<double>([3, 1], features, targets);
        features.Should().Equal(3, -3, 1, -1);
        targets.Should().Equal(30, 31, 32, 10, 11, 12);
        FluentActions.Invoking(() => data.CopyBatch<double>([3, 1], features, new double[5])).Should().Throw<ArgumentException>().WithMessage("*6 target slots*");
    }
}
