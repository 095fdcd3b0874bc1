using NeuralNet.Diagnostics;
using NeuralNet.Modules;

namespace NeuralNet.Tests.Modules;

public class MaxPool2DTests
{
    [Theory]
    // batch, C, H, W, K, stride
    [InlineData(1, 1, 4, 4, 2, 2)]
    [InlineData(2, 3, 7, 5, 2, 2)]   // odd sizes: last row/column dropped
    [InlineData(2, 2, 7, 7, 3, 2)]   // overlapping windows (stride < kernel)
    [InlineData(3, 2, 8, 9, 2, 3)]   // gaps (stride > kernel)
    [InlineData(1, 4, 5, 5, 5, 1)]   // global pooling
    public void GradientCheck_IsBelow1e6(int batch, int c, int h, int w, int k, int stride)
    {
        var pool = new MaxPool2D<double>(k, stride);
        // Distinct values 0.01 apart keep each window's maximum unique under the ±2h perturbations.
        var x = ModuleTestData.DistinctValues(3, 0.01, batch, c, h, w);

        var result = GradientCheck.Check(pool, x);

        result.MaxRelativeError.Should().BeLessThan(1e-6, result.ToString());
    }

    [Fact]
    public void Forward_TakesWindowMaxima()
    {
        var pool = new MaxPool2D<double>(2, 2);
        var x = new NdArray<double>([
            1, 5, 2, 0,
            3, 4, 8, 1,
            0, 0, 9, 9,
            7, 0, 9, 9], 1, 1, 4, 4);
        pool.Forward(x).Data.Should().Equal(5, 8, 7, 9);
    }

    [Fact]
    public void Ties_SendGradientToFirstMaximumOnly()
    {
        var pool = new MaxPool2D<double>(2, 2);
        var x = new NdArray<double>([2, 2, 2, 2], 1, 1, 2, 2);
        pool.Forward(x, training: true);
        var dx = pool.Backward(new NdArray<double>([3.0], 1, 1, 1, 1));
        dx.Data.Should().Equal(3, 0, 0, 0);
    }

    [Fact]
    public void OverlappingWindows_AddTheirGradients()
    {
        var pool = new MaxPool2D<double>(2, 1);
        var x = new NdArray<double>([0, 1, 0, 0, 9, 0, 0, 1, 0], 1, 1, 3, 3); // 9 is the max of all four windows
        pool.Forward(x, training: true);
        var dx = pool.Backward(new NdArray<double>([1, 2, 3, 4.0], 1, 1, 2, 2));
        dx.Data.Should().Equal(0, 0, 0, 0, 10, 0, 0, 0, 0);
    }

    [Fact]
    public void OutputShape_AndConfiguration()
    {
        var pool = new MaxPool2D<float>(3, 2);
        (pool.KernelSize, pool.Stride).Should().Be((3, 2));
        pool.GetOutputShape([6, 7, 8]).Should().Equal(6, 3, 3);
        new MaxPool2D<float>(2, 2).GetOutputShape([16, 9, 9]).Should().Equal(16, 4, 4);
    }

    [Fact]
    public void FloatAndDouble_AgreeWithin1e4()
    {
        var x = ModuleTestData.DistinctValues(4, 0.01, 2, 3, 6, 6);
        ModuleTestData.FloatVersusDouble(new MaxPool2D<double>(2, 2), new MaxPool2D<float>(2, 2), x).Should().BeLessThan(1e-4);
    }

    [Fact]
    public void Step_AllocatesNothingAfterWarmUp()
    {
        var pool = new MaxPool2D<float>(2, 2);
        var x = new NdArray<float>(4, 3, 8, 8);
        var dy = new NdArray<float>(4, 3, 4, 4);
        ModuleTestData.AllocatedBytes(() => { pool.Forward(x, true); pool.Backward(dy); }).Should().Be(0);
    }

    [Fact]
    public void BadInput_Throws()
    {
        var pool = new MaxPool2D<float>(3, 3);
        var small = () => pool.Forward(new NdArray<float>(1, 2, 2, 9));
        small.Should().Throw<ArgumentException>().WithMessage("*MaxPool2D(kernel 3, stride 3)*H, W ≥ 3*(1, 2, 2, 9)*");
        var rank = () => pool.Forward(new NdArray<float>(4, 9));
        rank.Should().Throw<ArgumentException>().WithMessage("*(N, C, H, W)*(4, 9)*");
        var x = new NdArray<float>(1, 1, 3, 3);
        x[0, 0, 1, 1] = float.PositiveInfinity;
        var inf = () => pool.Forward(x);
        inf.Should().Throw<ArgumentException>().WithMessage("*MaxPool2D*[0, 0, 1, 1]*Infinity*");
        var shape = () => pool.GetOutputShape([2, 9]);
        shape.Should().Throw<ArgumentException>().WithMessage("*(C, H, W)*(2, 9)*");
    }
}
