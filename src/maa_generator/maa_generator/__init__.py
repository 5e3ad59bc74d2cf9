"""Make-An-Agent policy generator: parameter autoencoder, behavior embedding, latent diffusion, ROS node."""
