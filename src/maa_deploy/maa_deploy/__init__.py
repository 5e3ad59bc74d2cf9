"""Go2 deployment: safety layer, state machine, sim and Unitree backends, deploy ROS node."""
