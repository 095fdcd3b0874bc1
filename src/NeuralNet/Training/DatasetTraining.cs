using NeuralNet.Data;
using NeuralNet.Evaluation;

namespace NeuralNet.Training;

/// <summary>Overloads that take the data helper's <see cref="Dataset"/> (float features).</summary>
public static class DatasetTraining
{
    /// <summary>Trains on a <see cref="Dataset"/> of class labels or of float targets (<see cref="Dataset.HasTargets"/>); see
    /// <see cref="Trainer{T}.Fit(NdArray{T}, int[], TrainerOptions, NdArray{T}, int[], IProgress{TrainingProgress}, CancellationToken)"/>.</summary>
    /// <exception cref="ArgumentException">The validation set holds labels while the training set holds targets, or the reverse.</exception>
    public static History Fit(this Trainer<float> trainer, Dataset train, TrainerOptions options, Dataset? validation = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(train);
        if (validation is not null && validation.HasTargets != train.HasTargets)
            throw new ArgumentException(
                $"Trainer.Fit: the training set '{train.Name}' holds {(train.HasTargets ? "float targets" : "labels")} but the validation set '{validation.Name}' holds {(validation.HasTargets ? "float targets" : "labels")}.",
                nameof(validation));
        return train.HasTargets
            ? trainer.Fit(train.Features, train.Targets, options, validation?.Features, validation?.Targets, progress, cancellationToken)
            : trainer.Fit(train.Features, train.Labels, options, validation?.Features, validation?.Labels, progress, cancellationToken);
    }

    /// <summary>Evaluates on a labelled <see cref="Dataset"/>; see <see cref="Trainer{T}.Evaluate(NdArray{T}, int[], int)"/>.</summary>
    /// <exception cref="InvalidOperationException">The data set holds float targets (use <see cref="EvaluateTargets"/>).</exception>
    public static EvaluationResult Evaluate(this Trainer<float> trainer, Dataset data, int batchSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(data);
        return trainer.Evaluate(data.Features, data.Labels, batchSize);
    }

    /// <summary>Evaluates on a <see cref="Dataset"/> of float targets: loss, arg-max accuracy, MSE, MAE and R²; see
    /// <see cref="Trainer{T}.Evaluate(NdArray{T}, NdArray{T}, int)"/>.</summary>
    /// <exception cref="InvalidOperationException">The data set holds class labels (use <see cref="Evaluate(Trainer{float}, Dataset, int)"/>).</exception>
    public static TargetEvaluationResult EvaluateTargets(this Trainer<float> trainer, Dataset data, int batchSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(data);
        return trainer.Evaluate(data.Features, data.Targets, batchSize);
    }

    /// <summary>Continues training an <see cref="MlpClassifier{T}"/> on a <see cref="Dataset"/>.</summary>
    public static History Fit(this MlpClassifier<float> classifier, Dataset train, int? epochs = null, Dataset? validation = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(train);
        return classifier.Fit(train.Features, train.Labels, epochs, validation?.Features, validation?.Labels, progress, cancellationToken);
    }

    /// <summary>Evaluates an <see cref="MlpClassifier{T}"/> on a <see cref="Dataset"/>.</summary>
    public static EvaluationResult Evaluate(this MlpClassifier<float> classifier, Dataset data)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(data);
        return classifier.Evaluate(data.Features, data.Labels);
    }
}
