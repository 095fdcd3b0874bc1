using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Serialization;
using NeuralNet.Modules;
using NeuralNet.Optimization;
using NeuralNet.Serialization;

namespace NeuralNet.Training;

/// <summary>
/// Saves and restores everything a <see cref="Trainer{T}"/> needs to resume training with bit-identical results: the model's
/// parameters, the optimizer's state (any <see cref="Optimizer{T}"/>: its settings, step count, each group's learning rate, and
/// its per-parameter tensors such as momentum or Adam's moments), the schedule's state, the random
/// generator's state, the epoch and iteration counts, the history and (for Bold Driver with undo) the undo snapshot.
/// </summary>
/// <remarks>
/// <para>The file is a <see cref="SafeTensorsFile"/> (safetensors-compatible, SHA-256 checksum, atomic write). When the model is a
/// <see cref="Sequential{T}"/> that <see cref="ModelSerializer"/> can describe, the model part is exactly a model file
/// (<c>neuralnet.format</c> = <c>neuralnet.model</c>, the architecture JSON, tensors <c>layers.{i}.{name}</c>), so
/// <see cref="ModelSerializer.Load{T}"/> opens a checkpoint as a model; otherwise parameters are stored as <c>model.{i}.{name}</c>
/// with <c>neuralnet.format</c> = <see cref="Format"/>. Training state: tensors <c>training.optimizer.{state}.{i}</c> (one per
/// optimizer state name, e.g. <c>momentum_buffer</c> or <c>exp_avg</c>, and parameter), <c>training.undo.{i}</c>, <c>training.random.state</c> (I64, 4 words), <c>training.history.epochs</c> (F64, (E, 8)) and
/// <c>training.history.iterations</c> (F64, (I, 9)) — the history columns in <see cref="EpochRecord"/> /
/// <see cref="IterationRecord"/> order, elapsed time in ticks (100 ns), exact; when training on float targets also
/// <c>training.history.regression</c> (F64, (E, 6): training MSE, MAE, R², validation MSE, MAE, R², NaN where absent); metadata <c>training.checkpoint_version</c> = 2,
/// <c>training.element_type</c>, <c>training.epoch</c>, <c>training.iteration</c>, <c>training.parameter_count</c>, and
/// <c>training.optimizer.kind</c>, <c>training.optimizer</c> (the optimizer's named numbers: settings, step count and every
/// group's learning rate, the one place the rate is saved), <c>training.optimizer.tensors</c> (the state names, comma-separated),
/// <c>training.schedule.kind</c> / <c>training.schedule.state</c> (JSON numbers, round-trip exact).</para>
/// <para>Restoring needs a trainer built the same way (same architecture, an optimizer of the same kind, settings and groups, a
/// schedule of the same kind); it overwrites that trainer's weights and state. Callbacks that implement <see cref="ICheckpointedCallback{T}"/>
/// (e.g. <see cref="EarlyStopping{T}"/>) are saved too, by their position in <see cref="Trainer{T}.Callbacks"/>: metadata
/// <c>training.callbacks.{c}.kind</c>, <c>.state</c> (JSON numbers, NaN allowed) and <c>.tensors</c> (a count), tensors
/// <c>training.callbacks.{c}.{j}</c>; on restore each such callback gets the state saved at its position when there is one
/// (a checkpoint without it leaves the callback as it is). Other callbacks keep no state in the file. Checkpoints are taken at
/// epoch boundaries, where the trainer's state is complete.</para>
/// <para>The same file serves one process and N data-parallel ranks (the ranks hold identical state): rank 0 writes it
/// (<see cref="CheckpointCallback{T}"/> saves only where <see cref="TrainingStrategy{T}.WritesFiles"/>), and under a
/// data-parallel <see cref="Trainer{T}.Strategy"/> <see cref="Restore{T}(Trainer{T}, string)"/> is a collective: rank 0 reads
/// the file and sends its bytes, so every rank restores the same state or fails with the same exception.</para>
/// </remarks>
public static class TrainingCheckpoint
{
    /// <summary>The <c>neuralnet.format</c> of a checkpoint whose model is not a serializable <see cref="Sequential{T}"/>
    /// (otherwise it is <see cref="ModelSerializer.ModelFormat"/>, and the checkpoint also loads with <see cref="ModelSerializer.Load{T}"/>).</summary>
    public const string Format = "neuralnet.training-checkpoint";

    /// <summary>The metadata key that marks a training checkpoint and holds its version.</summary>
    public const string VersionKey = "training.checkpoint_version";

    /// <summary>The current checkpoint version.</summary>
    public const int Version = 2;

    private const int EpochColumns = 8, IterationColumns = 9, RegressionColumns = 6;

    /// <summary>Saves the trainer's complete state to <paramref name="path"/> atomically.</summary>
    /// <param name="trainer">The trainer (not currently inside <c>Fit</c>, or at an epoch end from a callback).</param>
    /// <param name="path">The target file; its directory must exist.</param>
    public static void Save<T>(Trainer<T> trainer, string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var parameters = trainer.Optimizer.Parameters;
        var (names, sequential) = Layout(trainer);
        SafeTensorsFile file;
        if (sequential is not null)
        {
            // The model part is exactly a ModelSerializer file, so the checkpoint also loads as a model.
            file = ModelSerializer.ToSafeTensors(sequential);
        }
        else
        {
            file = new SafeTensorsFile();
            file.Metadata[ModelSerializer.FormatKey] = Format;
            for (int i = 0; i < parameters.Count; i++) file.Add(names[i], parameters[i].Value);
        }
        file.Metadata[VersionKey] = Version.ToString(CultureInfo.InvariantCulture);
        file.Metadata["training.element_type"] = typeof(T).Name;
        file.Metadata["training.epoch"] = trainer.Epoch.ToString(CultureInfo.InvariantCulture);
        file.Metadata["training.iteration"] = trainer.Iteration.ToString(CultureInfo.InvariantCulture);
        file.Metadata["training.parameter_count"] = parameters.Count.ToString(CultureInfo.InvariantCulture);

        var optimizer = trainer.Optimizer.GetState();
        file.Metadata["training.optimizer.kind"] = optimizer.Kind;
        file.Metadata["training.optimizer"] = JsonSerializer.Serialize(optimizer.Scalars);
        file.Metadata["training.optimizer.tensors"] = string.Join(",", optimizer.Tensors.Keys);
        foreach (var (name, tensors) in optimizer.Tensors)
            for (int i = 0; i < tensors.Count; i++) file.Add($"training.optimizer.{name}.{i}", tensors[i]);

        if (trainer.Schedule is { } schedule)
        {
            file.Metadata["training.schedule.kind"] = schedule.Kind;
            file.Metadata["training.schedule.state"] = JsonSerializer.Serialize(schedule.GetState());
        }
        if (trainer.UndoSnapshot is { HasValue: true } undo)
            for (int i = 0; i < undo.Values.Count; i++) file.Add($"training.undo.{i}", undo.Values[i]);

        var state = trainer.Random.GetState();
        file.Add("training.random.state", [(long)state[0], (long)state[1], (long)state[2], (long)state[3]]);

        for (int c = 0; c < trainer.Callbacks.Count; c++)
        {
            if (trainer.Callbacks[c] is not ICheckpointedCallback<T> checkpointed) continue;
            var callbackState = checkpointed.GetState();
            file.Metadata[$"training.callbacks.{c}.kind"] = checkpointed.StateKind;
            file.Metadata[$"training.callbacks.{c}.state"] = JsonSerializer.Serialize(callbackState.Values, s_callbackJson);
            file.Metadata[$"training.callbacks.{c}.tensors"] = callbackState.Tensors.Count.ToString(CultureInfo.InvariantCulture);
            for (int j = 0; j < callbackState.Tensors.Count; j++) file.Add($"training.callbacks.{c}.{j}", callbackState.Tensors[j]);
        }

        var epochs = trainer.History.Epochs;
        if (epochs.Count > 0)
        {
            var t = new NdArray<double>(epochs.Count, EpochColumns);
            for (int r = 0; r < epochs.Count; r++)
            {
                var e = epochs[r];
                Row(t, r, e.Epoch, e.Iterations, e.TrainingLoss, e.TrainingAccuracy, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate, e.Elapsed.Ticks);
            }
            file.Add("training.history.epochs", t);
            if (epochs.Any(e => e.TrainingRegression is not null || e.ValidationRegression is not null))
            {
                var m = new NdArray<double>(epochs.Count, RegressionColumns);
                for (int r = 0; r < epochs.Count; r++)
                {
                    var (tr, va) = (epochs[r].TrainingRegression, epochs[r].ValidationRegression);
                    Row(m, r, tr?.MeanSquaredError ?? double.NaN, tr?.MeanAbsoluteError ?? double.NaN, tr?.RSquared ?? double.NaN,
                        va?.MeanSquaredError ?? double.NaN, va?.MeanAbsoluteError ?? double.NaN, va?.RSquared ?? double.NaN);
                }
                file.Add("training.history.regression", m);
            }
        }
        var iterations = trainer.History.Iterations;
        if (iterations.Count > 0)
        {
            var t = new NdArray<double>(iterations.Count, IterationColumns);
            for (int r = 0; r < iterations.Count; r++)
            {
                var e = iterations[r];
                Row(t, r, e.Epoch, e.Iteration, e.TrainingLoss, e.TrainingAccuracy, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate, e.Elapsed.Ticks, e.Undone ? 1 : 0);
            }
            file.Add("training.history.iterations", t);
        }
        file.Save(path);
    }

    /// <summary>Restores a checkpoint into <paramref name="trainer"/>: its model weights, optimizer, schedule, generator, counters,
    /// history and the state of its checkpointed callbacks.</summary>
    /// <param name="trainer">A trainer built like the one that was saved.</param>
    /// <param name="path">The checkpoint file.</param>
    /// <exception cref="InvalidDataException">The file is corrupt, is not a training checkpoint, or does not match the trainer
    /// (element type, parameter count or shapes, optimizer settings, schedule kind); the message names the file and the entry.
    /// Nothing is changed in the trainer then.</exception>
    public static void Restore<T>(Trainer<T> trainer, string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        // Under data parallelism a collective: rank 0 reads the file and every rank restores the same bytes.
        var file = trainer.Strategy.LoadCheckpoint(path);
        string Meta(string key) => file.Metadata.TryGetValue(key, out var v) ? v : throw Bad(path, $"metadata entry '{key}' is missing");
        if (!file.Metadata.ContainsKey(VersionKey)) throw Bad(path, $"metadata entry '{VersionKey}' is missing (a model file, not a training checkpoint?)");
        if (Meta(VersionKey) != "2") throw Bad(path, $"checkpoint version '{Meta(VersionKey)}' is not supported (expected 2)");
        if (Meta("training.element_type") != typeof(T).Name) throw Bad(path, $"the checkpoint holds {Meta("training.element_type")} tensors, the trainer uses {typeof(T).Name}");
        int epoch = ParseInt(path, "training.epoch", Meta("training.epoch"));
        long iteration = ParseLong(path, "training.iteration", Meta("training.iteration"));

        var optimizerBefore = trainer.Optimizer.GetState();

        // Read and validate everything first, so a mismatch leaves the trainer untouched.
        var parameters = trainer.Optimizer.Parameters;
        var (names, sequential) = Layout(trainer);
        string format = Meta(ModelSerializer.FormatKey);
        if (sequential is not null)
        {
            if (format != ModelSerializer.ModelFormat) throw Bad(path, $"it stores a {format} model, the trainer's model is a Sequential");
            string architecture = ModelSerializer.DescribeArchitecture(sequential);
            if (Meta(ModelSerializer.ArchitectureKey) != architecture)
                throw Bad(path, $"its architecture {Meta(ModelSerializer.ArchitectureKey)} differs from the trainer's model {architecture}");
        }
        else if (format != Format)
        {
            throw Bad(path, $"{ModelSerializer.FormatKey} is '{format}', expected '{Format}' for a model that is not a serializable Sequential");
        }
        int count = ParseInt(path, "training.parameter_count", Meta("training.parameter_count"));
        if (count != parameters.Count) throw Bad(path, $"it holds {count} optimizer parameters, the trainer's optimizer has {parameters.Count}");
        var values = new NdArray<T>[count];
        for (int i = 0; i < count; i++)
        {
            string name = names[i];
            values[i] = ReadTensor<T>(file, path, name);
            if (!values[i].HasShape(parameters[i].Value.Shape))
                throw Bad(path, $"tensor '{name}' has shape {values[i].ShapeString}, the model's parameter needs {parameters[i].Value.ShapeString}");
        }

        // Module buffers (running statistics): part of the model, restored with the parameters.
        var moduleBuffers = new List<(ModuleBuffer<T> Buffer, NdArray<T> Value)>();
        if (sequential is not null)
        {
            foreach (var (name, buffer) in ModelSerializer.NamedBuffers(sequential))
            {
                var value = ReadTensor<T>(file, path, name);
                if (!value.HasShape(buffer.Value.Shape))
                    throw Bad(path, $"buffer tensor '{name}' has shape {value.ShapeString}, the model's buffer needs {buffer.Value.ShapeString}");
                moduleBuffers.Add((buffer, value));
            }
        }

        var optimizerScalars = ReadJson(path, "training.optimizer", Meta("training.optimizer"));
        var optimizerTensors = new Dictionary<string, IReadOnlyList<NdArray<T>>>(StringComparer.Ordinal);
        string tensorNames = Meta("training.optimizer.tensors");
        foreach (string name in tensorNames.Length == 0 ? [] : tensorNames.Split(','))
        {
            var list = new NdArray<T>[count];
            for (int i = 0; i < count; i++) list[i] = ReadTensor<T>(file, path, $"training.optimizer.{name}.{i}");
            optimizerTensors[name] = list;
        }
        var optimizerState = new OptimizerState<T>(Meta("training.optimizer.kind"), optimizerScalars, optimizerTensors);

        IReadOnlyDictionary<string, double>? scheduleState = null;
        bool savedSchedule = file.Metadata.TryGetValue("training.schedule.kind", out var kind);
        if (savedSchedule != trainer.Schedule is not null || (savedSchedule && kind != trainer.Schedule!.Kind))
            throw Bad(path, $"the checkpoint's schedule is '{(savedSchedule ? kind : "none")}', the trainer's is '{trainer.Schedule?.Kind ?? "none"}'");
        if (savedSchedule) scheduleState = ReadJson(path, "training.schedule.state", Meta("training.schedule.state"));

        List<NdArray<T>>? undo = null;
        if (file.Contains("training.undo.0"))
        {
            undo = [];
            for (int i = 0; i < count; i++) undo.Add(ReadTensor<T>(file, path, $"training.undo.{i}"));
        }

        // Callback states: for each checkpointed callback, the state saved at its position, if any.
        var callbackStates = new List<(ICheckpointedCallback<T> Callback, CallbackState<T> State, int Index)>();
        for (int c = 0; c < trainer.Callbacks.Count; c++)
        {
            if (trainer.Callbacks[c] is not ICheckpointedCallback<T> checkpointed) continue;
            if (!file.Metadata.TryGetValue($"training.callbacks.{c}.kind", out var savedKind)) continue;
            if (savedKind != checkpointed.StateKind)
                throw Bad(path, $"callback {c} saved a '{savedKind}' state, the trainer's callback {c} keeps '{checkpointed.StateKind}'");
            var stateValues = ReadJson(path, $"training.callbacks.{c}.state", Meta($"training.callbacks.{c}.state"), s_callbackJson);
            int tensorCount = ParseInt(path, $"training.callbacks.{c}.tensors", Meta($"training.callbacks.{c}.tensors"));
            if (tensorCount > count + 1024) throw Bad(path, $"callback {c} claims {tensorCount} tensors");
            var tensors = new NdArray<T>[tensorCount];
            for (int j = 0; j < tensorCount; j++) tensors[j] = ReadTensor<T>(file, path, $"training.callbacks.{c}.{j}");
            callbackStates.Add((checkpointed, new CallbackState<T>(stateValues, tensors), c));
        }

        var rng = file.GetRequired("training.random.state");
        if (rng.DType != SafeTensorDType.I64 || rng.ElementCount != 4) throw Bad(path, "tensor 'training.random.state' must be 4 I64 words");
        var words = rng.ToInt64Array();
        ulong[] randomState = [(ulong)words[0], (ulong)words[1], (ulong)words[2], (ulong)words[3]];
        var history = ReadHistory(file, path);

        try
        {
            // Validate the states on scratch objects before touching the trainer.
            RandomGenerator.FromState(randomState);
            if (undo is not null) new ParameterSnapshot<T>(parameters).Load(undo);
            if (scheduleState is not null)
            {
                var saved = trainer.Schedule!.GetState();
                trainer.Schedule.SetState(scheduleState);
                trainer.Schedule.SetState(saved);
            }
            // Validates everything before changing anything; rolled back below if a callback refuses its state.
            trainer.Optimizer.SetState(optimizerState);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: invalid training checkpoint: {e.Message}", e);
        }

        // The callbacks last among the checks: each validates before it changes; if one refuses its state, the ones already
        // set get their previous state back, so a failed restore changes nothing.
        var previous = new List<(ICheckpointedCallback<T> Callback, CallbackState<T> State)>();
        foreach (var (callback, state, index) in callbackStates)
        {
            var before = callback.GetState();
            try
            {
                callback.SetState(trainer, state);
            }
            catch (ArgumentException e)
            {
                foreach (var (done, old) in previous) done.SetState(trainer, old);
                trainer.Optimizer.SetState(optimizerBefore);
                throw new InvalidDataException($"{path}: invalid training checkpoint: callback {index}: {e.Message}", e);
            }
            previous.Add((callback, before));
        }

        for (int i = 0; i < count; i++) parameters[i].Value.CopyFrom(values[i]);
        foreach (var (buffer, value) in moduleBuffers) buffer.Value.CopyFrom(value);
        if (scheduleState is not null) trainer.Schedule!.SetState(scheduleState);
        trainer.Random.SetState(randomState);
        trainer.RestoreProgress(epoch, iteration, history, undo);
        trainer.ResumedFrom = string.Create(CultureInfo.InvariantCulture, $"{path} (epoch {epoch}, iteration {iteration})");
    }

    private static History ReadHistory(SafeTensorsFile file, string path)
    {
        var history = new History();
        if (file.Find("training.history.epochs") is { } e)
        {
            var t = CheckTable(e, path, EpochColumns).ToNdArray<double>().Data;
            int rows = t.Length / EpochColumns;
            double[]? m = null;
            if (file.Find("training.history.regression") is { } re)
            {
                m = CheckTable(re, path, RegressionColumns).ToNdArray<double>().Data;
                if (m.Length / RegressionColumns != rows)
                    throw Bad(path, $"tensor 'training.history.regression' has {m.Length / RegressionColumns} rows but the history has {rows} epochs");
            }
            for (int r = 0; r < rows; r++)
            {
                int o = r * EpochColumns;
                var record = new EpochRecord((int)t[o], (int)t[o + 1], t[o + 2], t[o + 3], t[o + 4], t[o + 5], t[o + 6], TimeSpan.FromTicks((long)t[o + 7]));
                if (m is not null)
                {
                    int q = r * RegressionColumns;
                    record = record with { TrainingRegression = Metrics(m, q), ValidationRegression = Metrics(m, q + 3) };
                }
                history.Add(record);
            }
        }
        if (file.Find("training.history.iterations") is { } it)
        {
            var t = CheckTable(it, path, IterationColumns).ToNdArray<double>().Data;
            int rows = t.Length / IterationColumns;
            history.EnsureIterationCapacity(rows);
            for (int r = 0; r < rows; r++)
            {
                int o = r * IterationColumns;
                history.Add(new IterationRecord((int)t[o], (long)t[o + 1], t[o + 2], t[o + 3], t[o + 4], t[o + 5], t[o + 6], TimeSpan.FromTicks((long)t[o + 7]), t[o + 8] != 0));
            }
        }
        return history;
    }

    // A regression triple, or null when it was absent (saved as NaN, NaN, NaN).
    private static Evaluation.RegressionMetrics? Metrics(double[] m, int o)
        => double.IsNaN(m[o]) && double.IsNaN(m[o + 1]) && double.IsNaN(m[o + 2]) ? null : new Evaluation.RegressionMetrics(m[o], m[o + 1], m[o + 2]);

    private static SafeTensorEntry CheckTable(SafeTensorEntry entry, string path, int columns)
    {
        if (entry.DType != SafeTensorDType.F64 || entry.Shape.Length != 2 || entry.Shape[1] != columns || entry.Shape[0] < 1)
            throw Bad(path, $"tensor '{entry.Name}' must be F64 (rows, {columns}), got {entry}");
        return entry;
    }

    private static NdArray<T> ReadTensor<T>(SafeTensorsFile file, string path, string name) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var entry = file.GetRequired(name);
        var expected = typeof(T) == typeof(float) ? SafeTensorDType.F32 : SafeTensorDType.F64;
        if (entry.DType != expected) throw Bad(path, $"tensor '{name}' is {entry.DType}, expected {expected}");
        foreach (int d in entry.Shape)
            if (d < 1) throw Bad(path, $"tensor '{name}' has an empty dimension");
        return entry.ToNdArray<T>();
    }

    // Callback states may hold NaN (e.g. no best value yet): written and read as the JSON strings "NaN", "Infinity".
    private static readonly JsonSerializerOptions s_callbackJson = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private static Dictionary<string, double> ReadJson(string path, string key, string json, JsonSerializerOptions? options = null)
    {
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, double>>(json, options) ?? throw Bad(path, $"metadata '{key}' is null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid training checkpoint: metadata '{key}' is not a JSON object of numbers: {e.Message}", e);
        }
    }

    private static double Get(string path, string what, Dictionary<string, double> map, string key) =>
        map.TryGetValue(key, out var v) ? v : throw Bad(path, $"metadata '{what}' has no '{key}'");

    private static int ParseInt(string path, string key, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : throw Bad(path, $"metadata '{key}' = '{value}' is not a non-negative integer");

    private static long ParseLong(string path, string key, string value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : throw Bad(path, $"metadata '{key}' = '{value}' is not a non-negative integer");

    /// <summary>The tensor name of each optimizer parameter: the <see cref="ModelSerializer"/> name when the model is a
    /// serializable Sequential holding every optimizer parameter (then the Sequential is returned), else <c>model.{i}.{name}</c>.</summary>
    private static (string[] Names, Sequential<T>? Model) Layout<T>(Trainer<T> trainer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var parameters = trainer.Optimizer.Parameters;
        var names = new string[parameters.Count];
        if (trainer.Model is Sequential<T> sequential)
        {
            try
            {
                ModelSerializer.DescribeArchitecture(sequential); // throws for module types the serializer does not know
                var byParameter = new Dictionary<Parameter<T>, string>(ReferenceEqualityComparer.Instance);
                foreach (var (name, p) in ModelSerializer.NamedParameters(sequential)) byParameter[p] = name;
                bool all = true;
                for (int i = 0; i < names.Length && all; i++) all = byParameter.TryGetValue(parameters[i], out names[i]!);
                if (all) return (names, sequential);
            }
            catch (ArgumentException)
            {
                // Not serializable as a model file: fall back to positional names.
            }
        }
        for (int i = 0; i < names.Length; i++) names[i] = string.Create(CultureInfo.InvariantCulture, $"model.{i}.{parameters[i].Name}");
        return (names, null);
    }

    private static void Row(NdArray<double> t, int r, params double[] values) => values.CopyTo(t.Data, r * values.Length);

    private static InvalidDataException Bad(string path, string message) => new($"{path}: invalid training checkpoint: {message}.");
}
