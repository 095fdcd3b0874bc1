using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Optimization;
using NeuralNet.Serialization;
using NeuralNet.Training;

namespace NeuralNet.Tests.Serialization;

/// <summary>Model files and checkpoints keep module buffers (batch normalization's running statistics) and the new layers' configurations.</summary>
public class BufferSerializationTests
{
    private static Sequential<float> Model(ulong seed = 5)
    {
        var rng = new RandomGenerator(seed);
        return new Sequential<float>([1, 10, 9],
            Conv2D<float>.Same(1, 4, 3, bias: false, random: rng), new BatchNorm2d<float>(4, epsilon: 1e-3, momentum: 0.2),
            new LeakyReLU<float>(0.05), new MaxPool2D<float>(3, 2, padding: 1), new AvgPool2D<float>(2, 1),
            new Sequential<float>([4, 4, 4], new Conv2D<float>(4, 6, 3, padding: 1, random: rng), new BatchNorm2d<float>(6, affine: false), new GELU<float>()),
            new GlobalAvgPool2D<float>(), new Dense<float>(6, 8, random: rng), new BatchNorm1d<float>(8), new ReLU<float>(),
            new Dropout<float>(0.25, rng), new Dense<float>(8, 3, random: rng));
    }

    private static NdArray<float> Batch(ulong seed, int n = 6)
    {
        var x = new NdArray<float>(n, 1, 10, 9);
        var r = new RandomGenerator(seed);
        for (int i = 0; i < x.Length; i++) x.Data[i] = (float)r.NextDouble();
        return x;
    }

    private static void TrainAFewSteps(Sequential<float> model)
    {
        var sgd = new Sgd<float>(model, 0.05, 0.9);
        var loss = new SoftmaxCrossEntropyLoss<float>();
        for (int step = 0; step < 4; step++)
        {
            var y = model.Forward(Batch((ulong)step), training: true);
            loss.Forward(y, [0, 1, 2, 0, 1, 2]);
            model.ZeroGrad();
            model.Backward(loss.Backward());
            sgd.Step();
        }
    }

    [Fact]
    public void SaveLoad_RestoresBuffersByName_AndPredictsBitIdentically()
    {
        using var dir = new TempDirectory();
        var model = Model();
        TrainAFewSteps(model);
        ModelSerializer.NamedBuffers(model).Select(b => b.Name).Should().Equal(
            "layers.1.running_mean", "layers.1.running_var", "layers.1.num_batches_tracked",
            "layers.5.layers.1.running_mean", "layers.5.layers.1.running_var", "layers.5.layers.1.num_batches_tracked",
            "layers.8.running_mean", "layers.8.running_var", "layers.8.num_batches_tracked");
        var bn = (BatchNorm2d<float>)model.Layers[1];
        bn.NumBatchesTracked.Data[0].Should().Be(4);
        bn.RunningMean.Data.Should().Contain(v => v != 0, "training moved the running mean");

        string path = dir.File("m.safetensors");
        ModelSerializer.Save(model, path);
        var loaded = ModelSerializer.Load(path);

        var loadedBn = (BatchNorm2d<float>)loaded.Layers[1];
        (loadedBn.Epsilon, loadedBn.Momentum, loadedBn.Affine).Should().Be((1e-3, 0.2, true));
        loadedBn.RunningMean.Data.Should().Equal(bn.RunningMean.Data);
        loadedBn.RunningVariance.Data.Should().Equal(bn.RunningVariance.Data);
        loadedBn.NumBatchesTracked.Data.Should().Equal(4f);
        ((MaxPool2D<float>)loaded.Layers[3]).Padding.Should().Be(1);
        ((AvgPool2D<float>)loaded.Layers[4]).Stride.Should().Be(1);
        ((LeakyReLU<float>)loaded.Layers[2]).NegativeSlope.Should().Be(0.05);
        ((Dropout<float>)loaded.Layers[10]).P.Should().Be(0.25);
        ((BatchNorm2d<float>)((Sequential<float>)loaded.Layers[5]).Layers[1]).Affine.Should().BeFalse();

        var x = Batch(100);
        loaded.Forward(x, training: false).Data.Should().Equal(model.Forward(x, training: false).Data);
    }

    [Fact]
    public void Load_WithoutABuffer_FailsNamingIt()
    {
        using var dir = new TempDirectory();
        var file = ModelSerializer.ToSafeTensors(Model());
        file.Remove("layers.8.running_var").Should().BeTrue();
        string path = dir.File("old.safetensors");
        file.Save(path);
        FluentActions.Invoking(() => ModelSerializer.Load(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"{path}: missing tensor 'layers.8.running_var' of shape (8) required by layer 8 (BatchNorm1d) of the architecture.");
    }

    [Fact]
    public void Load_WithAWronglyShapedBuffer_FailsNamingIt()
    {
        using var dir = new TempDirectory();
        var file = ModelSerializer.ToSafeTensors(Model());
        file.Remove("layers.1.running_mean");
        file.Add("layers.1.running_mean", new NdArray<float>(5));
        string path = dir.File("bad.safetensors");
        file.Save(path);
        FluentActions.Invoking(() => ModelSerializer.Load(path)).Should().Throw<InvalidDataException>()
            .WithMessage("*tensor 'layers.1.running_mean' has shape (5) but layer 1 (BatchNorm2d) of the architecture expects (4).");
    }

    [Fact]
    public void Checkpoint_RestoresRunningStatistics()
    {
        using var dir = new TempDirectory();
        var model = Model();
        TrainAFewSteps(model);
        var trainer = new Trainer<float>(model, new SoftmaxCrossEntropyLoss<float>(), new Sgd<float>(model, 0.05, 0.9), random: new RandomGenerator(1));
        string path = dir.File("ckpt.safetensors");
        TrainingCheckpoint.Save(trainer, path);

        var fresh = Model();
        var freshTrainer = new Trainer<float>(fresh, new SoftmaxCrossEntropyLoss<float>(), new Sgd<float>(fresh, 0.05, 0.9), random: new RandomGenerator(1));
        TrainingCheckpoint.Restore(freshTrainer, path);
        var a = ModelSerializer.NamedBuffers(model);
        var b = ModelSerializer.NamedBuffers(fresh);
        for (int i = 0; i < a.Count; i++) b[i].Buffer.Value.Data.Should().Equal(a[i].Buffer.Value.Data, a[i].Name);
        var x = Batch(7);
        fresh.Forward(x, false).Data.Should().Equal(model.Forward(x, false).Data);
    }
}
