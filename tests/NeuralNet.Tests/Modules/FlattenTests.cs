using NeuralNet.Diagnostics;
using NeuralNet.Modules;

namespace NeuralNet.Tests.Modules;

public class FlattenTests
{
    [Fact]
    public void Forward_IsRowMajorView_AndBackwardRestoresShape()
    {
        var flatten = new Flatten<double>();
        var x = ModuleTestData.Uniform(1, -1, 1, 2, 3, 4, 5);
        var y = flatten.Forward(x, true);
        y.ShapeString.Should().Be("(2, 60)");
        y.Data.Should().BeSameAs(x.Data);
        var dy = ModuleTestData.Uniform(2, -1, 1, 2, 60);
        var dx = flatten.Backward(dy);
        dx.ShapeString.Should().Be("(2, 3, 4, 5)");
        dx.Data.Should().Equal(dy.Data);
        flatten.GetOutputShape([16, 4, 4]).Should().Equal(256);
    }

    [Fact]
    public void GradientCheck_IsBelow1e6()
    {
        var result = GradientCheck.Check(new Flatten<double>(), ModuleTestData.Uniform(3, -1, 1, 3, 2, 3, 3));
        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Fact]
    public void BadInput_Throws()
    {
        var flatten = new Flatten<float>();
        var rank = () => flatten.Forward(new NdArray<float>(7));
        rank.Should().Throw<ArgumentException>().WithMessage("*Flatten*rank ≥ 2*(7)*");
        var x = new NdArray<float>(1, 2, 2);
        x[0, 1, 0] = float.NegativeInfinity;
        var inf = () => flatten.Forward(x);
        inf.Should().Throw<ArgumentException>().WithMessage("*Flatten*[0, 1, 0]*-Infinity*");
        var empty = () => flatten.GetOutputShape([]);
        empty.Should().Throw<ArgumentException>().WithMessage("*Flatten*()*");
    }

    [Fact]
    public void Step_AllocatesNothingAfterWarmUp()
    {
        var flatten = new Flatten<float>();
        var x = new NdArray<float>(4, 3, 5, 5);
        var dy = new NdArray<float>(4, 75);
        ModuleTestData.AllocatedBytes(() => { flatten.Forward(x, true); flatten.Backward(dy); }).Should().Be(0);
    }
}
