using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Tests.Modules;

/// <summary>
/// Inside a Sequential a layer skips its NaN/infinity scan when its input is the output of a layer that checked its own input
/// and cannot create a non-finite value (ReLU, max pooling, flatten, …). These tests pin what must still be caught.
/// </summary>
public class FinitenessChainTests
{
    private static Sequential<float> Chain(float weight) =>
        new([1, 4, 4],
            Conv(weight), new ReLU<float>(), new MaxPool2D<float>(2, 2), new Flatten<float>(), new Dense<float>(4, 2));

    private static Conv2D<float> Conv(float weight)
    {
        var conv = new Conv2D<float>(1, 1, 1, bias: false);
        conv.Weight.Value.Data[0] = weight;
        return conv;
    }

    private static NdArray<float> Input(float value)
    {
        var x = new NdArray<float>(2, 1, 4, 4);
        x.Data.AsSpan().Fill(value);
        return x;
    }

    [Fact]
    public void NaNInput_IsNamedAtTheFirstLayer()
    {
        var x = Input(1);
        x.Data[5] = float.NaN;
        Chain(1).Invoking(m => m.Forward(x, training: true)).Should().Throw<ArgumentException>()
            .WithMessage("Conv2D*input*must be finite*element*NaN*");
    }

    [Fact]
    public void InfinityCreatedByALayer_IsNamedAtTheNextLayer()
    {
        // 1e30 · 1e30 overflows in the convolution: the ReLU after it (which follows a layer that can overflow) scans.
        Chain(1e30f).Invoking(m => m.Forward(Input(1e30f), training: true)).Should().Throw<ArgumentException>()
            .WithMessage("ReLU*input*must be finite*Infinity*");
    }

    [Fact]
    public void FiniteChain_GivesTheSameOutputAsTheLayersCalledOneByOne()
    {
        var model = Chain(0.5f);
        var x = Input(2);
        x.Data[3] = -7;
        var chained = model.Forward(x, training: false).Data.ToArray();
        NdArray<float> y = x;
        foreach (var (_, layer) in model.NamedChildren) y = layer.Forward(y, training: false);
        y.Data.Should().Equal(chained);
    }

    [Fact]
    public void ALayerCalledOnItsOwnAfterAChain_ChecksItsInputAgain()
    {
        var model = Chain(1);
        model.Forward(Input(1), training: true);
        var pool = (MaxPool2D<float>)model.NamedChildren[2].Module;
        var bad = new NdArray<float>(1, 1, 4, 4);
        bad.Data[0] = float.PositiveInfinity;
        pool.Invoking(p => p.Forward(bad)).Should().Throw<ArgumentException>().WithMessage("MaxPool2D*must be finite*");
    }

    [Fact]
    public void ALayerThatThrewInsideAChain_ChecksItsInputWhenCalledOnItsOwn()
    {
        var model = Chain(1e30f);
        model.Invoking(m => m.Forward(Input(1e30f), training: true)).Should().Throw<ArgumentException>();
        var flatten = (Flatten<float>)model.NamedChildren[3].Module;
        var bad = new NdArray<float>(1, 1, 2, 2);
        bad.Data[1] = float.NaN;
        flatten.Invoking(f => f.Forward(bad)).Should().Throw<ArgumentException>().WithMessage("Flatten*must be finite*");
    }
}
