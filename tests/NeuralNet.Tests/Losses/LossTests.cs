using NeuralNet.Diagnostics;
using NeuralNet.Losses;
using NeuralNet.Modules.Activations;
using NeuralNet.Tests.Modules;

namespace NeuralNet.Tests.Losses;

public class LossTests
{
    private static NdArray<double> Probabilities(ulong seed, int n, int k)
    {
        var logits = ModuleTestData.Uniform(seed, -2, 2, n, k);
        return new Softmax<double>().Forward(logits).Clone();
    }

    private static NdArray<double> OneHot(int[] labels, int k)
    {
        var t = new NdArray<double>(labels.Length, k);
        for (int i = 0; i < labels.Length; i++) t[i, labels[i]] = 1;
        return t;
    }

    public static TheoryData<string> Names => new() { "MseLoss", "CrossEntropyLoss", "SoftmaxCrossEntropyLoss" };

    private static Loss<T> Create<T>(string name) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => name switch
    {
        "MseLoss" => new MseLoss<T>(),
        "CrossEntropyLoss" => new CrossEntropyLoss<T>(),
        _ => new SoftmaxCrossEntropyLoss<T>(),
    };

    [Theory]
    [InlineData("MseLoss", 1, 1)]
    [InlineData("MseLoss", 5, 7)]
    [InlineData("CrossEntropyLoss", 1, 2)]
    [InlineData("CrossEntropyLoss", 6, 10)]
    [InlineData("SoftmaxCrossEntropyLoss", 1, 3)]
    [InlineData("SoftmaxCrossEntropyLoss", 7, 10)]
    public void GradientCheck_WithLabels_IsBelow1e6(string name, int n, int k)
    {
        var prediction = Probabilities((ulong)(n * 31 + k), n, k);
        var labels = Enumerable.Range(0, n).Select(i => (i * 3 + 1) % k).ToArray();
        var result = GradientCheck.CheckLoss(Create<double>(name), prediction, labels);
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void GradientCheck_WithSoftTargets_IsBelow1e6(string name)
    {
        var prediction = Probabilities(3, 4, 6);
        var target = Probabilities(4, 4, 6); // rows of non-negative weights summing to 1
        var result = GradientCheck.CheckLoss(Create<double>(name), prediction, target);
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Theory]
    [InlineData(5, 1)]
    [InlineData(4, 3)]
    public void Mse_OnRealValuedRegressionTargets_GradientCheck(int n, int k)
    {
        // Regression targets are any real numbers (negative, above 1), one or several outputs per row.
        var prediction = ModuleTestData.Uniform((ulong)(n + k), -3, 3, n, k);
        var target = ModuleTestData.Uniform((ulong)(n * k + 1), -5, 5, n, k);
        var result = GradientCheck.CheckLoss(new MseLoss<double>(), prediction, target);
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Fact]
    public void SoftmaxCrossEntropy_TargetsNotSummingToOne_GradientCheck()
    {
        var logits = ModuleTestData.Uniform(5, -3, 3, 3, 4);
        var target = ModuleTestData.Uniform(6, 0, 2, 3, 4);
        var result = GradientCheck.CheckLoss(new SoftmaxCrossEntropyLoss<double>(), logits, target);
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void LabelsAndOneHotRows_GiveTheSameLossAndGradient(string name)
    {
        var prediction = Probabilities(7, 5, 4);
        int[] labels = [3, 0, 1, 1, 2];
        var a = Create<double>(name);
        var b = Create<double>(name);
        double la = a.Forward(prediction, labels);
        double lb = b.Forward(prediction, OneHot(labels, 4));
        la.Should().BeApproximately(lb, 1e-15);
        var ga = a.Backward().Data;
        var gb = b.Backward().Data;
        for (int i = 0; i < ga.Length; i++) ga[i].Should().BeApproximately(gb[i], 1e-15);
    }

    [Fact]
    public void Mse_KnownValueAndGradient()
    {
        var loss = new MseLoss<double>();
        var y = new NdArray<double>([1, 2, 3, 4], 2, 2);
        var t = new NdArray<double>([0, 2, 3, 0], 2, 2);
        loss.Forward(y, t).Should().Be((1.0 + 16.0) / (2 * 2)); // Σ(y−t)² / (2N)
        loss.Backward().Data.Should().Equal(0.5, 0, 0, 2);    // (y − t)/N
    }

    [Fact]
    public void CrossEntropy_KnownValue_AndZeroGradientWhereClipped()
    {
        var loss = new CrossEntropyLoss<double>(1e-5);
        var p = new NdArray<double>([0.25, 0.75, 0.0, 1.0], 2, 2);
        double value = loss.Forward(p, [1, 0]);
        // Row 1's label probability 0 is clipped to ε: −(log 0.75 + log 1e-5)/2.
        value.Should().BeApproximately(-(Math.Log(0.75) + Math.Log(1e-5)) / 2, 1e-12);
        loss.Backward().Data.Should().Equal(0, -1 / (2 * 0.75), 0, 0);
        loss.Epsilon.Should().Be(1e-5);
    }

    [Fact]
    public void CrossEntropy_DefaultEpsilonIs1e7_AndBadEpsilonThrows()
    {
        new CrossEntropyLoss<float>().Epsilon.Should().Be(1e-7);
        var zero = () => new CrossEntropyLoss<float>(0);
        zero.Should().Throw<ArgumentOutOfRangeException>();
        var tooSmallForFloat = () => new CrossEntropyLoss<float>(1e-9);
        tooSmallForFloat.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*rounds to 1*");
        var half = () => new CrossEntropyLoss<double>(0.5);
        half.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void SoftmaxCrossEntropy_EqualsCrossEntropyOfSoftmax_AndGradientIsPMinusYOverN()
    {
        var logits = ModuleTestData.Uniform(9, -4, 4, 3, 5);
        int[] labels = [4, 0, 2];
        var fused = new SoftmaxCrossEntropyLoss<double>();
        double l1 = fused.Forward(logits, labels);
        var p = new Softmax<double>().Forward(logits);
        double l2 = new CrossEntropyLoss<double>(1e-15).Forward(p, labels);
        l1.Should().BeApproximately(l2, 1e-13);
        var g = fused.Backward();
        for (int r = 0; r < 3; r++)
        for (int j = 0; j < 5; j++)
            g[r, j].Should().BeApproximately((p[r, j] - (labels[r] == j ? 1 : 0)) / 3, 1e-15);
        fused.Probabilities.Data.Should().Equal(p.Data);
    }

    [Fact]
    public void SoftmaxCrossEntropy_OfPlusMinus1000_IsFinite()
    {
        var loss = new SoftmaxCrossEntropyLoss<float>();
        var logits = new NdArray<float>([1000, -1000, -1000, 1000], 2, 2);
        float value = loss.Forward(logits, [0, 0]);
        value.Should().Be(1000f); // row 0 costs 0, row 1 costs 2000, mean 1000
        loss.Backward().Data.Should().Equal(0f, 0f, -0.5f, 0.5f);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void FloatAndDouble_AgreeWithin1e4(string name)
    {
        var prediction = Probabilities(11, 6, 10);
        int[] labels = [0, 9, 3, 3, 5, 1];
        var d = Create<double>(name);
        var f = Create<float>(name);
        double ld = d.Forward(prediction, labels);
        float lf = f.Forward(prediction.Cast<float>(), labels);
        Math.Abs(lf - ld).Should().BeLessThan(1e-4 * Math.Abs(ld));
        ModuleTestData.MaxRelativeDifference(f.Backward(), d.Backward()).Should().BeLessThan(1e-4);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void LabelOutOfRange_ThrowsNamingLossRowAndValue(string name)
    {
        var loss = Create<float>(name);
        var p = new NdArray<float>(3, 10);
        p.Fill(0.1f);
        var high = () => loss.Forward(p, [1, 10, 2]);
        high.Should().Throw<ArgumentException>().WithMessage($"{name}: label 10 in row 1 is outside the classes [0, 10)*");
        var negative = () => loss.Forward(p, [1, 2, -1]);
        negative.Should().Throw<ArgumentException>().WithMessage("*label -1 in row 2*");
        var count = () => loss.Forward(p, [1, 2]);
        count.Should().Throw<ArgumentException>().WithMessage($"{name}: expected 3 labels*got 2*");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void NonFinitePrediction_ThrowsNamingLossRowAndValue(string name)
    {
        var loss = Create<double>(name);
        var p = new NdArray<double>(4, 3);
        p[2, 1] = double.NaN;
        var nan = () => loss.Forward(p, [0, 0, 0, 0]);
        nan.Should().Throw<ArgumentException>().WithMessage($"{name}: prediction (4, 3)*row 2, column 1 is NaN*");
        p[2, 1] = double.PositiveInfinity;
        var inf = () => loss.Forward(p, new NdArray<double>(4, 3));
        inf.Should().Throw<ArgumentException>().WithMessage($"{name}:*row 2, column 1 is Infinity*");
        p[2, 1] = 0;
        var target = new NdArray<double>(4, 3);
        target[3, 0] = double.NaN;
        var badTarget = () => loss.Forward(p, target);
        badTarget.Should().Throw<ArgumentException>().WithMessage($"{name}: target*row 3, column 0 is NaN*");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ShapeMismatch_Throws(string name)
    {
        var loss = Create<double>(name);
        var shape = () => loss.Forward(new NdArray<double>(4, 3), new NdArray<double>(4, 2));
        shape.Should().Throw<ArgumentException>().WithMessage($"{name}: expected a target of the prediction's shape (4, 3), got (4, 2)*");
        var rank = () => loss.Forward(new NdArray<double>(2, 1, 3), [0, 1]);
        rank.Should().Throw<ArgumentException>().WithMessage($"{name}: expected a prediction of shape (N, classes), got (2, 1, 3)*");
        var early = () => Create<double>(name).Backward();
        early.Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public void CrossEntropy_RejectsLogits_PointingToSoftmaxCrossEntropy()
    {
        var loss = new CrossEntropyLoss<float>();
        var logits = ModuleTestData.Uniform(8, -3, 3, 4, 5).Cast<float>();
        var withLabels = () => loss.Forward(logits, [0, 1, 2, 3]);
        withLabels.Should().Throw<ArgumentException>()
            .WithMessage("CrossEntropyLoss: prediction row 0 is not a probability vector*takes probabilities*use SoftmaxCrossEntropyLoss instead*");

        // Non-negative rows that do not sum to 1 (e.g. ReLU outputs) are rejected too, naming the row.
        var p = Probabilities(9, 3, 4).Cast<float>();
        for (int k = 0; k < 4; k++) p[2, k] *= 2;
        var unnormalized = () => loss.Forward(p, new NdArray<float>(3, 4));
        unnormalized.Should().Throw<ArgumentException>().WithMessage("*row 2 is not a probability vector (minimum *, sum 2*");

        // A negative entry in a row that sums to 1.
        var negative = new NdArray<float>([0.6f, 0.6f, -0.2f], 1, 3);
        FluentActions.Invoking(() => loss.Forward(negative, [0])).Should().Throw<ArgumentException>().WithMessage("*row 0*minimum -0.2*");

        // Softmax rows in float, even over 1000 classes, pass.
        var wide = new Softmax<float>().Forward(ModuleTestData.Uniform(10, -8, 8, 3, 1000).Cast<float>());
        FluentActions.Invoking(() => loss.Forward(wide, [0, 500, 999])).Should().NotThrow();
    }

    [Fact]
    public void CrossEntropy_ProbabilityCheck_AllocatesNothing()
    {
        var loss = new CrossEntropyLoss<float>();
        var p = Probabilities(12, 64, 10).Cast<float>();
        var labels = Enumerable.Range(0, 64).Select(i => i % 10).ToArray();
        var target = NeuralNet.Data.Dataset.OneHot<float>(labels, 10);
        for (int i = 0; i < 3; i++)
        {
            loss.Forward(p, labels);
            loss.Forward(p, target);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            loss.Forward(p, labels);
            loss.Forward(p, target);
        }
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().Be(0, "a forward pass, its checks included, allocates nothing after the first");
    }
}
