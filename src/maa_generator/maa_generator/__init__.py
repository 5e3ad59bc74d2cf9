"""Make-An-Agent policy generator: parameter autoencoder, behavior embedding, latent diffusion, and the generator ROS node."""
