namespace NeuralNet.Distributed.Worker;

internal static class TrainMode
{
    public static int Run(Communicator world, Options options) => throw new NotSupportedException("train: waiting for the Trainer/Sgd on main.");
}
