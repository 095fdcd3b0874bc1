using System.Numerics;
using NeuralNet.Evaluation;
using NeuralNet.Initialization;
using NeuralNet.Models;
using NeuralNet.Modules;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;

namespace NeuralNet.Training;

/// <summary>The settings of <see cref="MlpClassifier{T}"/>: architecture, initialization, optimizer and training loop.</summary>
public sealed record MlpSettings
{
    /// <summary>Features per example. Default 784.</summary>
    public int InputSize { get; init; } = 784;

    /// <summary>Hidden layer widths, e.g. [64], [100], [900, 400], [400, 100, 25]. Default [64].</summary>
    public IReadOnlyList<int> HiddenSizes { get; init; } = [64];

    /// <summary>Number of classes. Default 10.</summary>
    public int Classes { get; init; } = 10;

    /// <summary>Hidden activation. Default ReLU.</summary>
    public HiddenActivation Hidden { get; init; } = HiddenActivation.ReLU;

    /// <summary>Output activation; it also picks the loss (see <see cref="MlpBuilder.LossFor{T}"/>). Default logits with fused softmax cross-entropy.</summary>
    public OutputActivation Output { get; init; } = OutputActivation.Logits;

    /// <summary>Weight initializer, or null for He normal (ReLU) / Xavier uniform (sigmoid, tanh).</summary>
    public Initializer? Initializer { get; init; }

    /// <summary>The seed of the single generator used for the initial weights and then for shuffling. Default 0.</summary>
    public ulong Seed { get; init; }

    /// <summary>The learning rate of the default SGD optimizer: the base rate a schedule scales. Default 0.1.</summary>
    public double LearningRate { get; init; } = 0.1;

    /// <summary>SGD momentum. Default 0.</summary>
    public double Momentum { get; init; }

    /// <summary>L2 weight decay. Default 0.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Creates the optional schedule on the classifier's optimizer, e.g.
    /// <c>opt =&gt; new StepDecaySchedule(opt, gamma: 0.97)</c>; called once per classifier. Default none.</summary>
    public Func<Optimizer, LearningRateSchedule>? Schedule { get; init; }

    /// <summary>The training-loop settings (epochs, batch size, sampling, validation split…). Default: 1 epoch of batch 32.</summary>
    public TrainerOptions Training { get; init; } = new();
}

/// <summary>Factory methods for <see cref="MlpClassifier{T}"/>.</summary>
public static class MlpClassifier
{
    /// <summary>Builds an MLP from <paramref name="settings"/> and trains it in one call.</summary>
    /// <param name="inputs">Training inputs (N, InputSize).</param>
    /// <param name="labels">N labels in [0, Classes).</param>
    /// <param name="settings">Architecture and training settings.</param>
    /// <param name="validationInputs">Optional validation inputs.</param>
    /// <param name="validationLabels">Optional validation labels.</param>
    /// <param name="progress">Optional progress receiver.</param>
    /// <param name="cancellationToken">Cancels training.</param>
    /// <returns>The trained classifier; its <see cref="MlpClassifier{T}.History"/> holds the figures.</returns>
    public static MlpClassifier<T> Train<T>(NdArray<T> inputs, int[] labels, MlpSettings settings,
        NdArray<T>? validationInputs = null, int[]? validationLabels = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var classifier = new MlpClassifier<T>(settings);
        classifier.Fit(inputs, labels, null, validationInputs, validationLabels, progress, cancellationToken);
        return classifier;
    }

    /// <summary>Loads a classifier saved by <see cref="MlpClassifier{T}.Save"/> (or any model file holding an MLP).</summary>
    /// <typeparam name="T">The element type of the loaded classifier.</typeparam>
    /// <param name="path">The model file.</param>
    /// <param name="settings">The training settings for further <c>Fit</c> calls (optimizer, schedule, loop); null for the
    /// defaults. Its architecture (input size, hidden sizes and activation, classes, output) is replaced by the file's.</param>
    /// <returns>A classifier with the saved weights; its optimizer state and history start empty (use a
    /// <see cref="TrainingCheckpoint"/> to resume training exactly).</returns>
    /// <exception cref="InvalidDataException">The file is not a model file, or its model is not an MLP (Dense layers separated by
    /// one activation each, optionally ending with Softmax or Sigmoid).</exception>
    public static MlpClassifier<T> Load<T>(string path, MlpSettings? settings = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var model = Serialization.ModelSerializer.Load<T>(path);
        settings = (settings ?? new MlpSettings()) with { };
        var layers = model.Layers;
        var hiddenSizes = new List<int>();
        HiddenActivation? hidden = null;
        var output = Predictor<T>.InferOutput(model);
        int end = output == OutputActivation.Logits ? layers.Count : layers.Count - 1;
        if (end < 1 || layers[end - 1] is not Dense<T>)
            throw new InvalidDataException($"{path}: an MLP's output layer is Dense (optionally followed by Softmax or Sigmoid), but this model ends with {string.Join(", ", layers.Skip(Math.Max(0, end - 1)).Select(l => l.Name))}.");
        for (int i = 0; i < end; i++)
        {
            if (layers[i] is not Dense<T> dense)
                throw new InvalidDataException($"{path}: layer {i} ({layers[i].Name}) is not where an MLP has a Dense layer; MlpClassifier.Load reads MLPs only (ModelSerializer.Load reads any model).");
            if (i == end - 1) break;
            hiddenSizes.Add(dense.OutFeatures);
            i++;
            var activation = layers[i] switch
            {
                Modules.Activations.ReLU<T> => HiddenActivation.ReLU,
                Modules.Activations.Sigmoid<T> => HiddenActivation.Sigmoid,
                Modules.Activations.Tanh<T> => HiddenActivation.Tanh,
                _ => throw new InvalidDataException($"{path}: layer {i} ({layers[i].Name}) is not a hidden activation (ReLU, Sigmoid or Tanh) of an MLP."),
            };
            if (hidden is not null && hidden != activation)
                throw new InvalidDataException($"{path}: layer {i} is {activation} but the earlier hidden layers use {hidden}; an MLP has one hidden activation.");
            hidden = activation;
        }
        var first = (Dense<T>)layers[0];
        var last = (Dense<T>)layers[end - 1];
        settings = settings with
        {
            InputSize = first.InFeatures,
            HiddenSizes = hiddenSizes,
            Classes = last.OutFeatures,
            Hidden = hidden ?? settings.Hidden,
            Output = output,
        };
        var classifier = new MlpClassifier<T>(settings);
        classifier.Model.LoadStateDict(model.StateDict());
        return classifier;
    }
}

/// <summary>
/// An MLP classifier with its trainer and predictor: build from a hidden-size list, train, keep training on more data, predict,
/// evaluate and read the weights.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para><c>var mlp = MlpClassifier.Train(x, y, new MlpSettings { HiddenSizes = [64], Training = new() { Epochs = 2 } });</c></para>
/// <para><see cref="Predict(ReadOnlySpan{T})"/>, <see cref="Evaluate"/> and <see cref="Fit"/> share one lock, so predicting from many
/// threads is safe, and a prediction during training waits for it to finish.</para>
/// </remarks>
public sealed class MlpClassifier<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the model (not yet trained).</summary>
    /// <param name="settings">Architecture and training settings.</param>
    /// <param name="createOptimizer">Creates the optimizer for the built model (e.g. <c>m =&gt; new AdamW&lt;float&gt;(m, 1e-3)</c>);
    /// null for <see cref="Sgd{T}"/> with the settings' learning rate, momentum and weight decay.</param>
    /// <exception cref="ArgumentException">A setting is out of range, or the optimizer does not step the model's parameters.</exception>
    public MlpClassifier(MlpSettings settings, Func<Sequential<T>, Optimizer<T>>? createOptimizer = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Training.Validate();
        Settings = settings;
        var random = new RandomGenerator(settings.Seed);
        Model = MlpBuilder.Build<T>(settings.InputSize, settings.HiddenSizes, settings.Classes, settings.Hidden, settings.Output, settings.Initializer, random);
        var optimizer = createOptimizer is null
            ? new Sgd<T>(Model, settings.LearningRate, settings.Momentum, settings.WeightDecay)
            : createOptimizer(Model) ?? throw new ArgumentException("MlpClassifier: the optimizer factory returned null.", nameof(createOptimizer));
        if (optimizer.Parameters.Count != Model.Parameters.Count || !optimizer.Parameters.ToHashSet(ReferenceEqualityComparer.Instance).SetEquals(Model.Parameters))
            throw new ArgumentException("MlpClassifier: the optimizer must step exactly the model's parameters.", nameof(createOptimizer));
        settings.Schedule?.Invoke(optimizer);
        Trainer = new Trainer<T>(Model, MlpBuilder.LossFor<T>(settings.Output), optimizer, random);
        Predictor = new Predictor<T>(Model, settings.Output);
    }

    /// <summary>The settings it was built with.</summary>
    public MlpSettings Settings { get; }

    /// <summary>The network.</summary>
    public Sequential<T> Model { get; }

    /// <summary>The trainer (optimizer, schedule, generator, callbacks).</summary>
    public Trainer<T> Trainer { get; }

    /// <summary>The thread-safe predictor.</summary>
    public Predictor<T> Predictor { get; }

    /// <summary>The history of all training so far.</summary>
    public History History => Trainer.History;

    /// <summary>The weights and biases, layer by layer (weight (Out, In) then bias (Out) for each Dense layer).</summary>
    public IReadOnlyList<Parameter<T>> Parameters => Model.Parameters;

    /// <summary>Trains (further) on the given data; call again with more data to continue training.</summary>
    /// <param name="inputs">Inputs (N, InputSize).</param>
    /// <param name="labels">N labels.</param>
    /// <param name="epochs">Epochs for this call, or null for <see cref="TrainerOptions.Epochs"/> of the settings.</param>
    /// <param name="validationInputs">Optional validation inputs.</param>
    /// <param name="validationLabels">Optional validation labels.</param>
    /// <param name="progress">Optional progress receiver.</param>
    /// <param name="cancellationToken">Cancels training.</param>
    public History Fit(NdArray<T> inputs, int[] labels, int? epochs = null, NdArray<T>? validationInputs = null, int[]? validationLabels = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var options = epochs is null ? Settings.Training : Settings.Training with { Epochs = epochs.Value };
        lock (Predictor.SyncRoot)
            return Trainer.Fit(inputs, labels, options, validationInputs, validationLabels, progress, cancellationToken);
    }

    /// <summary>Saves the network (architecture and weights) to a model file, atomically; <see cref="MlpClassifier.Load{T}"/>
    /// reads it back, and so does <see cref="Serialization.ModelSerializer.Load{T}"/>. Waits for a running <c>Fit</c>.</summary>
    /// <param name="path">The target file, conventionally <c>*.safetensors</c>.</param>
    public void Save(string path)
    {
        lock (Predictor.SyncRoot) Serialization.ModelSerializer.Save(Model, path);
    }

    /// <summary>Predicts one example (thread-safe).</summary>
    public Prediction Predict(ReadOnlySpan<T> example) => Predictor.Predict(example);

    /// <summary>Predicts a batch (thread-safe).</summary>
    public Prediction[] Predict(NdArray<T> inputs) => Predictor.Predict(inputs);

    /// <summary>Loss, accuracy and confusion matrix on labelled data (thread-safe).</summary>
    public EvaluationResult Evaluate(NdArray<T> inputs, int[] labels)
    {
        lock (Predictor.SyncRoot) return Trainer.Evaluate(inputs, labels);
    }
}
