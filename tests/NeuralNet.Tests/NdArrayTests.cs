namespace NeuralNet.Tests;

public class NdArrayTests
{
    [Fact]
    public void Reshape_SharesStorage()
    {
        var t = new NdArray<float>(2, 3);
        var r = t.Reshape(3, -1);
        r.Shape.ToArray().Should().Equal(3, 2);
        r.Data[5] = 7f;
        t[1, 2].Should().Be(7f);
    }

    [Fact]
    public void BadShapes_Throw()
    {
        FluentActions.Invoking(() => new NdArray<float>(2, 0)).Should().Throw<ArgumentException>().WithMessage("*(2, 0)*");
        FluentActions.Invoking(() => new NdArray<float>(new float[5], 2, 3)).Should().Throw<ArgumentException>().WithMessage("*5 elements*");
        FluentActions.Invoking(() => new NdArray<float>(2, 3).Reshape(4, 2)).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => new NdArray<float>(2, 3)[2, 0]).Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void RandomGenerator_IsReproducibleAndRestorable()
    {
        var a = new RandomGenerator(42);
        var b = new RandomGenerator(42);
        for (int i = 0; i < 100; i++) a.NextUInt64().Should().Be(b.NextUInt64());
        var state = a.GetState();
        double x = a.NextGaussian();
        var c = RandomGenerator.FromState(state);
        c.NextGaussian().Should().Be(x);
        var counts = new int[7];
        for (int i = 0; i < 70000; i++) counts[a.NextInt(7)]++;
        counts.Should().OnlyContain(n => n > 9500 && n < 10500, "NextInt(7) is uniform");
    }

    [Fact]
    public void CopyFrom_RequiresTheSameShape_NotOnlyTheSameLength()
    {
        var weight = new NdArray<float>(2, 3);
        var transposed = new NdArray<float>([1, 2, 3, 4, 5, 6], 3, 2);
        var act = () => weight.CopyFrom(transposed);
        act.Should().Throw<ArgumentException>().WithMessage("NdArray.CopyFrom: source has shape (3, 2), this tensor has (2, 3)*CopyDataFrom*");
        weight.Data.Should().OnlyContain(v => v == 0, "a rejected copy changes nothing");

        weight.CopyFrom(new NdArray<float>([6, 5, 4, 3, 2, 1], 2, 3));
        weight.Data.Should().Equal(6, 5, 4, 3, 2, 1);
    }

    [Fact]
    public void CopyDataFrom_CopiesRawDataOfEqualLength()
    {
        var weight = new NdArray<float>(2, 3);
        weight.CopyDataFrom(new NdArray<float>([1, 2, 3, 4, 5, 6], 3, 2).AsSpan());
        weight.Data.Should().Equal(1, 2, 3, 4, 5, 6);
        var act = () => weight.CopyDataFrom(new float[5]);
        act.Should().Throw<ArgumentException>().WithMessage("NdArray.CopyDataFrom: source has 5 elements, this tensor (2, 3) has 6*");
    }
}
