using NeuralNet.Evaluation;

namespace NeuralNet.Tests.Evaluation;

public class ConfusionMatrixTests
{
    // Hand-made 3-class case:
    // actual 0: predicted 0,0,0,1      -> row [3,1,0]
    // actual 1: predicted 1,1,2        -> row [0,2,1]
    // actual 2: predicted 0,2          -> row [1,0,1]
    private static ConfusionMatrix Make() => ConfusionMatrix.FromLabels(
        [0, 0, 0, 0, 1, 1, 1, 2, 2],
        [0, 0, 0, 1, 1, 1, 2, 0, 2], 3);

    [Fact]
    public void Counts_AccuracyAndPercent()
    {
        var m = Make();
        m[0, 0].Should().Be(3); m[0, 1].Should().Be(1); m[1, 2].Should().Be(1); m[2, 0].Should().Be(1);
        m.Total.Should().Be(9);
        m.Accuracy.Should().BeApproximately(6.0 / 9, 1e-15);
        var pct = m.Percent;
        pct[0, 0].Should().Be(75); pct[0, 1].Should().Be(25);
        pct[1, 1].Should().BeApproximately(200.0 / 3, 1e-12);
        pct[2, 0].Should().Be(50); pct[2, 2].Should().Be(50);
    }

    [Fact]
    public void PerClass_TpFpFnTnPrecisionRecallF1()
    {
        var m = Make();
        var c0 = m.ForClass(0);
        (c0.TruePositives, c0.FalsePositives, c0.FalseNegatives, c0.TrueNegatives).Should().Be((3L, 1L, 1L, 4L));
        c0.Precision.Should().Be(0.75); c0.Recall.Should().Be(0.75); c0.F1.Should().Be(0.75);
        var c1 = m.ForClass(1);
        (c1.TruePositives, c1.FalsePositives, c1.FalseNegatives, c1.TrueNegatives).Should().Be((2L, 1L, 1L, 5L));
        c1.Precision.Should().BeApproximately(2.0 / 3, 1e-15);
        var c2 = m.ForClass(2);
        (c2.TruePositives, c2.FalsePositives, c2.FalseNegatives, c2.TrueNegatives).Should().Be((1L, 1L, 1L, 6L));
        c2.F1.Should().Be(0.5);
        c2.Support.Should().Be(2);
        m.MacroPrecision.Should().BeApproximately((0.75 + 2.0 / 3 + 0.5) / 3, 1e-15);
        m.MacroRecall.Should().BeApproximately((0.75 + 2.0 / 3 + 0.5) / 3, 1e-15);
        m.MacroF1.Should().BeApproximately((0.75 + 2.0 / 3 + 0.5) / 3, 1e-15);
    }

    [Fact]
    public void NeverPredictedClass_HasZeroPrecisionAndF1()
    {
        var m = ConfusionMatrix.FromLabels([0, 1, 1], [0, 0, 0], 2);
        var c1 = m.ForClass(1);
        c1.Precision.Should().Be(0); c1.Recall.Should().Be(0); c1.F1.Should().Be(0);
        m.ForClass(0).Precision.Should().BeApproximately(1.0 / 3, 1e-15);
    }

    [Fact]
    public void BadLabels_Throw()
    {
        FluentActions.Invoking(() => ConfusionMatrix.FromLabels([0, 3], [0, 0], 3)).Should().Throw<ArgumentException>().WithMessage("*actual label 3 at index 1*[0, 3)*");
        FluentActions.Invoking(() => ConfusionMatrix.FromLabels([0], [0, 1], 3)).Should().Throw<ArgumentException>().WithMessage("*1 actual labels but 2*");
        var m = new ConfusionMatrix(2);
        FluentActions.Invoking(() => m.Add(0, -1)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*predicted label -1*");
    }
}
