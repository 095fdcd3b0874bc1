using System.Numerics;

namespace NeuralNet.Training;

/// <summary>
/// Stops training when the monitored figure has not improved for <see cref="Patience"/> epochs and, by default, puts the
/// weights of the best epoch back into the model at the end of the <c>Fit</c> call.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Improvement: a loss must fall below best − <see cref="MinDelta"/>; an accuracy must rise above best + <see cref="MinDelta"/>.
/// <see cref="TrainingMetric.Auto"/> monitors the validation loss when validation data exist, else the training loss.</para>
/// <para>With <see cref="RestoreBestWeights"/>, the best epoch's parameters are copied into a preallocated snapshot whenever it
/// improves and copied back in <see cref="OnTrainEnd"/> (whether training stopped early or ran all its epochs), so after
/// <c>Fit</c> the model holds the best weights. Momentum buffers are not restored.</para>
/// <para>The counters reset at the start of every <c>Fit</c> call, except the first one after its state was restored from a
/// <see cref="TrainingCheckpoint"/> (it is an <see cref="ICheckpointedCallback{T}"/>): a resumed run then stops at the same
/// epoch, with the same best weights, as an uninterrupted one. Add it before the <see cref="CheckpointCallback{T}"/>.</para>
/// </remarks>
public sealed class EarlyStopping<T> : TrainingCallback<T>, ICheckpointedCallback<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private ParameterSnapshot<T>? _best;
    private int _wait;
    private bool _restored;

    /// <summary>Creates the callback.</summary>
    /// <param name="monitor">The figure to watch.</param>
    /// <param name="patience">Epochs without improvement before stopping, at least 1.</param>
    /// <param name="minDelta">The smallest change that counts as an improvement, non-negative.</param>
    /// <param name="restoreBestWeights">Put the best epoch's weights back at the end of training.</param>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public EarlyStopping(TrainingMetric monitor = TrainingMetric.Auto, int patience = 3, double minDelta = 0, bool restoreBestWeights = true)
    {
        if (patience < 1) throw new ArgumentException($"EarlyStopping: patience must be at least 1, got {patience}.", nameof(patience));
        if (!double.IsFinite(minDelta) || minDelta < 0) throw new ArgumentException($"EarlyStopping: minDelta must be finite and non-negative, got {minDelta}.", nameof(minDelta));
        Monitor = monitor;
        Patience = patience;
        MinDelta = minDelta;
        RestoreBestWeights = restoreBestWeights;
    }

    /// <summary>The watched figure.</summary>
    public TrainingMetric Monitor { get; }

    /// <summary>Epochs without improvement before stopping.</summary>
    public int Patience { get; }

    /// <summary>The smallest change that counts as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>Whether the best weights are restored at the end.</summary>
    public bool RestoreBestWeights { get; }

    /// <summary>The best value seen in the current or last <c>Fit</c> call (NaN before the first epoch).</summary>
    public double BestValue { get; private set; } = double.NaN;

    /// <summary>The epoch of <see cref="BestValue"/>, or 0.</summary>
    public int BestEpoch { get; private set; }

    /// <summary>The epoch at which this callback stopped training, or 0 when it did not.</summary>
    public int StoppedEpoch { get; private set; }

    /// <inheritdoc/>
    public override void OnTrainBegin(Trainer<T> trainer)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        if (RestoreBestWeights) _best ??= new ParameterSnapshot<T>(trainer.Model.Parameters);
        if (_restored)
        {
            // Continue from the restored state instead of starting over.
            _restored = false;
            return;
        }
        BestValue = double.NaN;
        BestEpoch = 0;
        StoppedEpoch = 0;
        _wait = 0;
    }

    /// <inheritdoc/>
    public string StateKind => "early_stopping";

    /// <inheritdoc/>
    /// <remarks>Values: <c>best_value</c>, <c>best_epoch</c>, <c>stopped_epoch</c>, <c>wait</c>; tensors: the best weights in
    /// model parameter order, when <see cref="RestoreBestWeights"/> and some epoch has improved.</remarks>
    public CallbackState<T> GetState()
    {
        var values = new Dictionary<string, double>
        {
            ["best_value"] = BestValue,
            ["best_epoch"] = BestEpoch,
            ["stopped_epoch"] = StoppedEpoch,
            ["wait"] = _wait,
        };
        IReadOnlyList<NdArray<T>> tensors = _best is { HasValue: true } best ? best.Values.Select(t => t.Clone()).ToArray() : [];
        return new CallbackState<T>(values, tensors);
    }

    /// <inheritdoc/>
    public void SetState(Trainer<T> trainer, CallbackState<T> state)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(state);
        double Value(string key) => state.Values.TryGetValue(key, out double v)
            ? v : throw new ArgumentException($"EarlyStopping: the state has no '{key}'.", nameof(state));
        double bestValue = Value("best_value"), bestEpoch = Value("best_epoch"), stoppedEpoch = Value("stopped_epoch"), wait = Value("wait");
        foreach (var (name, v) in new[] { ("best_epoch", bestEpoch), ("stopped_epoch", stoppedEpoch), ("wait", wait) })
            if (!(v >= 0 && v <= int.MaxValue && v == Math.Floor(v)))
                throw new ArgumentException($"EarlyStopping: '{name}' must be a non-negative integer, got {v}.", nameof(state));
        if (double.IsInfinity(bestValue))
            throw new ArgumentException($"EarlyStopping: 'best_value' must be finite or NaN (nothing seen yet), got {bestValue}.", nameof(state));
        ParameterSnapshot<T>? best = null;
        if (state.Tensors.Count > 0)
        {
            if (!RestoreBestWeights)
                throw new ArgumentException("EarlyStopping: the state holds best weights, but this instance does not restore them.", nameof(state));
            best = new ParameterSnapshot<T>(trainer.Model.Parameters);
            best.Load(state.Tensors); // throws ArgumentException on a count or shape mismatch
        }

        BestValue = bestValue;
        BestEpoch = (int)bestEpoch;
        StoppedEpoch = (int)stoppedEpoch;
        _wait = (int)wait;
        _best = RestoreBestWeights ? best ?? new ParameterSnapshot<T>(trainer.Model.Parameters) : null;
        _restored = true;
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(Trainer<T> trainer, in EpochRecord record)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        bool hasValidation = !double.IsNaN(record.ValidationLoss) || !double.IsNaN(record.ValidationAccuracy);
        var monitor = Monitor == TrainingMetric.Auto ? (hasValidation ? TrainingMetric.ValidationLoss : TrainingMetric.TrainingLoss) : Monitor;
        double value = monitor switch
        {
            TrainingMetric.TrainingLoss => record.TrainingLoss,
            TrainingMetric.ValidationLoss => record.ValidationLoss,
            TrainingMetric.TrainingAccuracy => record.TrainingAccuracy,
            _ => record.ValidationAccuracy,
        };
        if (double.IsNaN(value))
            throw new InvalidOperationException($"EarlyStopping: the monitored {monitor} is not available at epoch {record.Epoch} (no validation data?).");
        bool higherIsBetter = monitor is TrainingMetric.TrainingAccuracy or TrainingMetric.ValidationAccuracy;
        bool improved = double.IsNaN(BestValue) || (higherIsBetter ? value > BestValue + MinDelta : value < BestValue - MinDelta);
        if (improved)
        {
            BestValue = value;
            BestEpoch = record.Epoch;
            _wait = 0;
            _best?.Capture();
            return;
        }
        if (++_wait >= Patience)
        {
            StoppedEpoch = record.Epoch;
            trainer.RequestStop();
        }
    }

    /// <inheritdoc/>
    public override void OnTrainEnd(Trainer<T> trainer)
    {
        if (RestoreBestWeights && _best is { HasValue: true } && BestEpoch != trainer.Epoch) _best.Restore();
    }
}
